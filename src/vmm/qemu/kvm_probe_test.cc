#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/testing/temp_dir.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::vmm::qemu {
namespace {

class CountingRunner : public process::ProcessRunner {
 public:
  int calls = 0;
  Result<process::RunResult> run(const std::vector<std::string>&,
                                 const process::RunOptions&) override {
    ++calls;
    process::RunResult r;
    r.exit_code = 0;
    r.out = "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs\n";
    return r;
  }
};

using ::lobster::testing::TempDir;

TEST(KvmProbe, CachedAnswerIsUsedWithoutProbing) {
  TempDir dir;
  std::ofstream(dir.path() + "/kvm-probe.json") << R"({"kvmUsable": true, "reason": "x"})";
  CountingRunner runner;
  KvmProbe probe("/usr/bin/qemu-system-x86_64", "/nonexistent", dir.path(), runner);
  EXPECT_TRUE(probe.kvm_usable());
  std::ofstream(dir.path() + "/kvm-probe.json") << R"({"kvmUsable": false})";
  EXPECT_FALSE(probe.kvm_usable());
  EXPECT_EQ(runner.calls, 0);
}

TEST(KvmProbe, WithoutKernelNoVmIsBootedAndTheAnswerIsCached) {
  TempDir dir;
  CountingRunner runner;
  KvmProbe probe("/usr/bin/qemu-system-x86_64", "", dir.path() + "/run", runner);
  EXPECT_FALSE(probe.kvm_usable());
  EXPECT_EQ(runner.calls, 0);
  auto cached = fs::read_file(dir.path() + "/run/kvm-probe.json");
  ASSERT_TRUE(cached.has_value());
  EXPECT_NE(cached->find("\"kvmUsable\":false"), std::string::npos) << *cached;
}

TEST(KvmProbe, FirecrackerBinariesMustBothBeExecutable) {
  TempDir dir;
  CountingRunner runner;
  KvmProbe probe("/q", "", dir.path(), runner);
  Config cfg = Config::defaults(Paths::under(dir.path()));
  cfg.firecracker.binary_path = "/bin/true";
  cfg.jailer.binary_path = dir.path() + "/missing";
  EXPECT_FALSE(probe.firecracker_binaries_present(cfg));
  cfg.jailer.binary_path = "/bin/true";
  EXPECT_TRUE(probe.firecracker_binaries_present(cfg));
}

TEST(HostTsc, ReadsCpuMhzOfAnInvariantTsc) {
  TempDir dir;
  std::ofstream(dir.path() + "/cpuinfo")
      << "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.134\n"
         "flags\t\t: fpu tsc constant_tsc rep_good nonstop_tsc cpuid\ncache size\t: 512 KB\n";
  EXPECT_EQ(host_tsc_khz(dir.path() + "/cpuinfo"), 2596134);
  EXPECT_EQ(host_tsc_khz(dir.path() + "/missing"), 0);
}

TEST(HostTsc, IgnoresAVariableTsc) {
  TempDir dir;
  std::ofstream(dir.path() + "/cpuinfo")
      << "processor\t: 0\ncpu MHz\t\t: 2596.134\nflags\t\t: fpu tsc constant_tsc cpuid\n";
  EXPECT_EQ(host_tsc_khz(dir.path() + "/cpuinfo"), 0);
}

}  // namespace
}  // namespace lobster::vmm::qemu
