#include "tenant/snap_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "store/testing/temp_dir.h"

namespace lobster::tenant {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

class SnapFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    disk_ = tmp_.path() + "/disk.ext4";
    // A sparse 64 MiB "disk" with a secret in the middle and data at both ends.
    int fd = ::open(disk_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 64 << 20), 0);
    ASSERT_EQ(::pwrite(fd, "BOOT", 4, 0), 4);
    ASSERT_EQ(::pwrite(fd, kSecret.data(), kSecret.size(), 32 << 20), kSecret.size());
    ASSERT_EQ(::pwrite(fd, "END!", 4, (64 << 20) - 4), 4);
    ::close(fd);
    auto k = load_or_create_snap_key(tmp_.path() + "/keys");
    ASSERT_THAT(k, IsOk());
    key_ = *k;
  }
  static constexpr std::string_view kSecret = "sk-planted-secret-0123456789";
  store::testing::TempDir tmp_;
  std::string disk_;
  std::string key_;
};

TEST_F(SnapFileTest, EncryptedSparseAndRestoresByteIdentically) {
  std::string out = tmp_.path() + "/t.snap";
  auto meta = write_snap(disk_, out, key_, "alice", 1234);
  ASSERT_THAT(meta, IsOk());
  auto bytes = fs::read_file(out);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_EQ(bytes->find(kSecret), std::string::npos);  // no plaintext secret in the file
  EXPECT_LT(bytes->size(), 1u << 20);                  // holes are not stored
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string back = tmp_.path() + "/restored.ext4";
  auto v = verify_snap(out, key_, back);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->tenant, "alice");
  EXPECT_EQ(v->sha256, meta->sha256);
  EXPECT_EQ(*fs::read_file(back), *fs::read_file(disk_));
}

TEST_F(SnapFileTest, TamperingTruncationAndWrongKeyAreDetected) {
  std::string out = tmp_.path() + "/t.snap";
  ASSERT_THAT(write_snap(disk_, out, key_, "alice", 1), IsOk());
  std::string good = *fs::read_file(out);
  std::string bad = tmp_.path() + "/bad.snap";
  // Flip one bit at several places: header JSON, stream header, record body, final record.
  for (size_t pos : {size_t{12}, good.find('\n', 9) + 5, good.size() / 2, good.size() - 3}) {
    SCOPED_TRACE(pos);
    std::string t = good;
    t[pos] = static_cast<char>(t[pos] ^ 0x01);
    ASSERT_THAT(fs::write_file_atomic(bad, t), IsOk());
    EXPECT_THAT(verify_snap(bad, key_, ""), HasError(ErrorCode::kSnapshotFailed));
  }
  ASSERT_THAT(fs::write_file_atomic(bad, good.substr(0, good.size() - 40)), IsOk());
  EXPECT_THAT(verify_snap(bad, key_, ""), HasError(ErrorCode::kSnapshotFailed));
  ASSERT_THAT(fs::write_file_atomic(bad, good + "x"), IsOk());
  EXPECT_THAT(verify_snap(bad, key_, ""), HasError(ErrorCode::kSnapshotFailed));
  auto other = load_or_create_snap_key(tmp_.path() + "/other-keys");
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(verify_snap(out, *other, ""), HasError(ErrorCode::kSnapshotFailed));
  EXPECT_THAT(verify_snap(out, key_, ""), IsOk());  // the untouched file still verifies
}

TEST_F(SnapFileTest, KeyIsCreatedOnceAndPrivate) {
  auto again = load_or_create_snap_key(tmp_.path() + "/keys");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, key_);
  struct stat st {};
  ASSERT_EQ(::stat((tmp_.path() + "/keys/snap.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((tmp_.path() + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace lobster::tenant
