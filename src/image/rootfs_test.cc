#include "image/rootfs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "image/builder.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lobster-rootfs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::remove_tree(dir_); }
  std::string dir_;
};

TEST(ProfileJson, CarriesGatewayArgvEnvAndCwd) {
  const auto doc = nlohmann::json::parse(
      profile_json("openclaw", {"/usr/local/bin/node", "/opt/openclaw/openclaw.mjs", "gateway"},
                   {{"NODE_ENV", "production"}}));
  EXPECT_EQ(doc["profile"], "openclaw");
  EXPECT_EQ(doc["gateway"]["argv"][2], "gateway");
  EXPECT_EQ(doc["gateway"]["env"]["NODE_ENV"], "production");
  EXPECT_EQ(doc["gateway"]["cwd"], "/root");
}

TEST(RootfsApplets, NetworkToolsAndInitAreNotLinked) {
  for (const char* denied : {"nc", "wget", "telnet", "httpd", "init", "busybox", "ftpget"}) {
    EXPECT_FALSE(rootfs_applet_allowed(denied)) << denied;
  }
  for (const char* allowed : {"sh", "ls", "cat", "ps", "ip", "mount"}) {
    EXPECT_TRUE(rootfs_applet_allowed(allowed)) << allowed;
  }
}

TEST_F(TempDir, MinimalRootfsHasTheContractFiles) {
  if (!fs::exists("/bin/busybox") || !fs::exists("/usr/sbin/dropbear")) {
    GTEST_SKIP() << "busybox-static and dropbear-bin are not installed";
  }
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/init-bin", "INIT", 0755), IsOk());
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/gw-bin", "GW", 0755), IsOk());
  RootfsInputs in;
  in.lobster_init = dir_ + "/init-bin";
  in.testgw = dir_ + "/gw-bin";
  process::PosixProcessRunner runner;
  const std::string tree = dir_ + "/tree";
  ASSERT_THAT(populate_minimal_rootfs(runner, in, tree), IsOk());

  EXPECT_EQ(fs::read_file(tree + "/sbin/lobster-init").value_or(""), "INIT");
  EXPECT_EQ(fs::read_file(tree + "/usr/bin/lobster-testgw").value_or(""), "GW");
  EXPECT_TRUE(fs::exists(tree + "/usr/sbin/dropbear"));
  EXPECT_TRUE(fs::exists(tree + "/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(fs::exists(tree + "/bin/sh"));
  EXPECT_FALSE(fs::exists(tree + "/bin/nc"));
  EXPECT_EQ(fs::read_file(tree + "/etc/passwd").value_or(""), "root:x:0:0:root:/root:/bin/sh\n");
  const auto profile =
      nlohmann::json::parse(fs::read_file(tree + "/etc/lobster/profile.json").value_or("{}"));
  EXPECT_EQ(profile["gateway"]["argv"][0], "/usr/bin/lobster-testgw");
  struct stat st {};
  ASSERT_EQ(stat((tree + "/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((tree + "/etc/shadow").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(TempDir, FindGuestBinaryPrefersExplicitDirThenEnvironment) {
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/lobster-init", "x", 0755), IsOk());
  auto found = find_guest_binary("lobster-init", dir_);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(*found, dir_ + "/lobster-init");
  EXPECT_THAT(find_guest_binary("lobster-nothing", dir_), HasError(ErrorCode::kPreflightFailed));
  ASSERT_EQ(setenv("LOBSTER_GUEST_BIN_DIR", dir_.c_str(), 1), 0);
  found = find_guest_binary("lobster-init");
  unsetenv("LOBSTER_GUEST_BIN_DIR");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(*found, dir_ + "/lobster-init");
}

TEST(BuildImage, RejectsUnknownProfile) {
  process::PosixProcessRunner runner;
  BuildOptions opt;
  opt.profile = "alpine";
  EXPECT_THAT(build_image(runner, Paths::under("/tmp/lobster-none"), opt),
              HasError(ErrorCode::kValidationFailed));
}

}  // namespace
}  // namespace lobster::image
