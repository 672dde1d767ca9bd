#include "image/overlay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/testing/matchers.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lobster-ovl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::remove_tree(dir_); }
  std::string dir_;
  process::PosixProcessRunner runner_;
};

TEST_F(OverlayTest, CreatesSparseLabelledExt4WithUpperAndWork) {
  if (!process::find_executable("mkfs.ext4") || !process::find_executable("debugfs")) {
    GTEST_SKIP() << "e2fsprogs not installed";
  }
  const std::string path = dir_ + "/t1.ext4";
  ASSERT_THAT(create_overlay(runner_, path, 256), IsOk());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 256 << 20);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_LT(st.st_blocks * 512, 32 << 20) << "overlay should stay sparse";
  auto label = runner_.run_checked({"e2label", path});
  ASSERT_THAT(label, IsOk());
  EXPECT_EQ(label->out, "lobster-ovl\n");
  auto ls = runner_.run_checked({"debugfs", "-R", "ls -l /", path});
  ASSERT_THAT(ls, IsOk());
  EXPECT_THAT(ls->out, HasSubstr("upper"));
  EXPECT_THAT(ls->out, HasSubstr("work"));
  // No skeleton directory is left next to the image.
  EXPECT_EQ(std::string(dir_ + "/t1.ext4"), path);
  auto listing = runner_.run_checked({"ls", "-A", dir_});
  ASSERT_THAT(listing, IsOk());
  EXPECT_EQ(listing->out, "t1.ext4\n");
}

TEST_F(OverlayTest, RefusesExistingFileAndTinySize) {
  const std::string path = dir_ + "/t1.ext4";
  ASSERT_THAT(fs::write_file_atomic(path, "keep me", 0600), IsOk());
  EXPECT_THAT(create_overlay(runner_, path, 256), HasError(ErrorCode::kOverlayCreateFailed));
  auto kept = fs::read_file(path);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(*kept, "keep me");
  EXPECT_THAT(create_overlay(runner_, dir_ + "/small.ext4", 1),
              HasError(ErrorCode::kValidationFailed));
}

TEST(MkfsArgv, LabelsAndPopulatesFromDirectory) {
  EXPECT_EQ(mkfs_ext4_argv("/x/rootfs.ext4", "lobster-root", "/x/tree"),
            (std::vector<std::string>{"mkfs.ext4", "-q", "-F", "-L", "lobster-root", "-m", "0",
                                      "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                                      "-d", "/x/tree", "/x/rootfs.ext4"}));
}

}  // namespace
}  // namespace lobster::image
