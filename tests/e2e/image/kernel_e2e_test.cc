// Extracts the host's real Debian kernel and modules (needs linux-image-amd64 installed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "image/kernel.h"

namespace lobster::image {
namespace {

using ::lobster::testing::IsOk;

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

class HostKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kver = find_installed_kernel();
    if (!kver) {
      if (in_ci())
        FAIL() << kver.error().to_string();
      GTEST_SKIP() << "no installed kernel: " << kver.error().to_string();
    }
    kver_ = *kver;
    char tmpl[] = "/tmp/lobster-image-kernel-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty())
      (void)fs::remove_tree(dir_);
  }
  std::string kver_;
  std::string dir_;
  process::PosixProcessRunner runner_;
};

TEST_F(HostKernel, ExtractsBootablePvhVmlinux) {
  const std::string out = dir_ + "/vmlinux";
  ASSERT_THAT(extract_vmlinux(runner_, "/boot/vmlinuz-" + kver_, out), IsOk());
  const auto data = fs::read_file(out);
  ASSERT_THAT(data, IsOk());
  EXPECT_GT(data->size(), 10u << 20);
  EXPECT_THAT(check_pvh_elf(*data), IsOk());
}

TEST_F(HostKernel, CollectsGuestModulesInLoadOrder) {
  const auto files = collect_modules(runner_, kver_, kGuestModules, dir_ + "/modules");
  ASSERT_THAT(files, IsOk());
  auto position = [&](const std::string& f) {
    return std::find(files->begin(), files->end(), f) - files->begin();
  };
  for (const char* f : {"virtio.ko", "virtio_mmio.ko", "virtio_blk.ko", "virtio_net.ko", "jbd2.ko",
                        "mbcache.ko", "ext4.ko", "overlay.ko"}) {
    EXPECT_LT(position(f), static_cast<long>(files->size())) << f;
    EXPECT_TRUE(fs::exists(dir_ + "/modules/" + f)) << f;
  }
  EXPECT_LT(position("virtio.ko"), position("virtio_mmio.ko"));
  EXPECT_LT(position("jbd2.ko"), position("ext4.ko"));
  const auto order = fs::read_file(dir_ + "/modules/load-order");
  ASSERT_THAT(order, IsOk());
  EXPECT_THAT(*order, ::testing::HasSubstr("ext4.ko\n"));
}

}  // namespace
}  // namespace lobster::image
