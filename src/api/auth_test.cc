#include "api/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "store/testing/temp_dir.h"

namespace lobster::api {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

class AuthTest : public ::testing::Test {
 protected:
  // Writes a fake /proc/<pid>/status with the given uid and groups line.
  void fake_proc(pid_t pid, uid_t uid, const std::string& groups) {
    std::string dir = tmp_.path() + "/" + std::to_string(pid);
    ASSERT_THAT(fs::ensure_dir(dir, 0755), IsOk());
    std::string text =
        fmt::format("Name:\tx\nUid:\t{0}\t{0}\t{0}\t{0}\nGroups:\t{1}\n", uid, groups);
    ASSERT_THAT(fs::write_file_atomic(dir + "/status", text, 0644), IsOk());
  }
  store::testing::TempDir tmp_;
};

TEST_F(AuthTest, RootIsAlwaysAllowed) {
  EXPECT_THAT(authorize_peer({1, 0, 0}, std::nullopt, tmp_.path()), IsOk());
}

TEST_F(AuthTest, PrimaryGroupIsAllowed) {
  EXPECT_THAT(authorize_peer({1, 1000, 994}, gid_t{994}, tmp_.path()), IsOk());
}

TEST_F(AuthTest, SupplementaryGroupIsAllowed) {
  fake_proc(42, 1000, "27 994 1000");
  EXPECT_THAT(authorize_peer({42, 1000, 1000}, gid_t{994}, tmp_.path()), IsOk());
}

TEST_F(AuthTest, OtherUsersAreDenied) {
  fake_proc(43, 65534, "65534");
  auto r = authorize_peer({43, 65534, 65534}, gid_t{994}, tmp_.path());
  ASSERT_THAT(r, HasError(ErrorCode::kPermissionDenied));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("uid 65534"));
  EXPECT_FALSE(r.error().hint.empty());
}

TEST_F(AuthTest, MissingGroupDeniesNonRoot) {
  fake_proc(44, 1000, "994");
  EXPECT_THAT(authorize_peer({44, 1000, 994}, std::nullopt, tmp_.path()),
              HasError(ErrorCode::kPermissionDenied));
}

TEST_F(AuthTest, ReusedPidWithAnotherUidIsDenied) {
  fake_proc(45, 2000, "994");  // the pid now belongs to uid 2000, the peer was uid 1000
  EXPECT_THAT(authorize_peer({45, 1000, 1000}, gid_t{994}, tmp_.path()),
              HasError(ErrorCode::kPermissionDenied));
}

TEST_F(AuthTest, VanishedPeerIsDenied) {
  EXPECT_THAT(authorize_peer({46, 1000, 1000}, gid_t{994}, tmp_.path()),
              HasError(ErrorCode::kPermissionDenied));
}

}  // namespace
}  // namespace lobster::api
