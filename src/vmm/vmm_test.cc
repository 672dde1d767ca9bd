#include "vmm/vmm.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"

namespace lobster::vmm {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(DefaultLimits, FollowsSpec) {
  auto l = default_limits(2, 1024);
  EXPECT_EQ(l.memory_bytes, (1024 + 256) * 1024 * 1024);  // guest + kVmmOverheadMiB
  EXPECT_EQ(l.cpu_quota_us, 200000);
  EXPECT_EQ(l.cpu_period_us, 100000);
  EXPECT_GT(l.pids_max, 0);
}

class FakeProbe : public HostProbe {
 public:
  bool fc = false;
  bool kvm = false;
  bool firecracker_binaries_present(const Config&) const override { return fc; }
  bool kvm_usable() const override { return kvm; }
};

using ::lobster::testing::TempDir;

TEST(ChooseDriver, AutoPicksFirecrackerOnlyWithBinariesAndKvm) {
  Config cfg = Config::defaults(Paths::under("/tmp/x"));
  FakeProbe probe;
  auto r = choose_driver(cfg, probe);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(*r, VmmDriverKind::kQemu);
  probe.fc = true;
  EXPECT_EQ(*choose_driver(cfg, probe), VmmDriverKind::kQemu);
  probe.kvm = true;
  EXPECT_EQ(*choose_driver(cfg, probe), VmmDriverKind::kFirecracker);
  probe.fc = false;
  EXPECT_EQ(*choose_driver(cfg, probe), VmmDriverKind::kQemu);
}

TEST(ChooseDriver, ExplicitFirecrackerReportsWhatIsMissing) {
  TempDir dir;
  Config cfg = Config::defaults(Paths::under(dir.path()));
  cfg.vmm.driver = VmmDriverKind::kFirecracker;
  cfg.firecracker.binary_path = dir.path() + "/firecracker";
  cfg.jailer.binary_path = dir.path() + "/jailer";
  FakeProbe probe;
  probe.kvm = true;
  EXPECT_THAT(choose_driver(cfg, probe), HasError(ErrorCode::kFirecrackerNotFound));
  cfg.firecracker.binary_path = "/bin/true";
  EXPECT_THAT(choose_driver(cfg, probe), HasError(ErrorCode::kJailerNotFound));
  cfg.jailer.binary_path = "/bin/true";
  EXPECT_EQ(*choose_driver(cfg, probe), VmmDriverKind::kFirecracker);
  probe.kvm = false;
  EXPECT_THAT(choose_driver(cfg, probe), HasError(ErrorCode::kKvmNotAvailable));
  cfg.vmm.driver = VmmDriverKind::kQemu;
  EXPECT_EQ(*choose_driver(cfg, probe), VmmDriverKind::kQemu);
}

// A fake /proc: <root>/<pid>/stat and <root>/<pid>/exe -> binary.
void make_fake_proc(const std::string& root, pid_t pid, uint64_t start, const std::string& exe) {
  std::string dir = root + "/" + std::to_string(pid);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/stat") << pid << " (qemu) x (y) R 1 " << pid
                               << " 0 0 -1 4194560 0 0 0 0 10 5 0 0 20 0 3 0 " << start
                               << " 1000 200 18446744073709551615\n";
  std::filesystem::remove(dir + "/exe");
  std::filesystem::create_symlink(exe, dir + "/exe");
}

TEST(Identity, ParsesStartTimeDespiteParenthesesInComm) {
  TempDir dir;
  make_fake_proc(dir.path(), 4242, 987654, "/bin/true");
  auto id = identity_of(4242, dir.path());
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(id->start_time, 987654U);
  EXPECT_EQ(id->exe, "/bin/true");
  EXPECT_THAT(identity_of(4243, dir.path()), HasError(ErrorCode::kInvalidState));
}

TEST(Identity, RejectsDifferentStartTimeOrExe) {
  TempDir dir;
  std::string bin_a = dir.path() + "/a";
  std::string bin_b = dir.path() + "/b";
  std::ofstream(bin_a) << "a";
  std::ofstream(bin_b) << "b";
  make_fake_proc(dir.path(), 100, 555, bin_a);
  ProcessIdentity stored{100, 555, bin_a};
  EXPECT_TRUE(*identity_matches(stored, dir.path()));
  // Same pid, reused by a later process.
  make_fake_proc(dir.path(), 100, 556, bin_a);
  EXPECT_FALSE(*identity_matches(stored, dir.path()));
  // Same pid and start time but another executable.
  make_fake_proc(dir.path(), 100, 555, bin_b);
  EXPECT_FALSE(*identity_matches(stored, dir.path()));
  // Gone.
  std::filesystem::remove_all(dir.path() + "/100");
  EXPECT_FALSE(*identity_matches(stored, dir.path()));
}

TEST(Identity, MatchesOwnProcessInRealProc) {
  auto me = identity_of(::getpid());
  ASSERT_THAT(me, IsOk());
  EXPECT_TRUE(*identity_matches(*me));
  ProcessIdentity other = *me;
  other.start_time += 1;
  EXPECT_FALSE(*identity_matches(other));
  other = *me;
  other.exe = "/bin/sh";
  EXPECT_FALSE(*identity_matches(other));
}

TEST(VmStatsTest, ReadsResidentAndPeakMemoryFromProcStatus) {
  VmStats s;
  read_proc_status_memory("Name:\tqemu\nVmHWM:\t 2222560 kB\nVmRSS:\t  1088100 kB\n", s);
  EXPECT_EQ(s.rss_bytes, int64_t{1088100} * 1024);
  EXPECT_EQ(s.peak_rss_bytes, int64_t{2222560} * 1024);
  VmStats bad;
  read_proc_status_memory("VmRSS: lots\n", bad);  // no leading newline, not a number
  EXPECT_EQ(bad.rss_bytes, 0);
  EXPECT_EQ(bad.peak_rss_bytes, 0);
}

}  // namespace
}  // namespace lobster::vmm
