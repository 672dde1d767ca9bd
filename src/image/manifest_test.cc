#include "image/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "core/fs.h"
#include "core/testing/matchers.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lobster-manifest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/minimal";
    ASSERT_THAT(fs::ensure_dir(dir_, 0755), IsOk());
    Manifest m;
    m.profile = "minimal";
    m.kernel_version = "6.1.0-56-amd64";
    m.packages = {{"busybox", "1:1.35.0"}, {"dropbear", "2022.83"}};
    m.lobster_init_build_id = "abc";
    for (const char* name : {"vmlinux", "initramfs", "rootfs"}) {
      const std::string path = dir_ + "/" + name;
      ASSERT_THAT(fs::write_file_atomic(path, std::string("content of ") + name, 0644), IsOk());
      auto a = describe_artifact(path);
      ASSERT_THAT(a, IsOk());
      m.artifacts[name] = *a;
    }
    ASSERT_THAT(fs::write_file_atomic(dir_ + "/manifest.json", manifest_to_json(m), 0644), IsOk());
  }
  void TearDown() override { (void)fs::remove_tree(root_); }
  std::string root_;
  std::string dir_;
};

TEST(Sha256, KnownVector) {
  char tmpl[] = "/tmp/lobster-sha-XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  close(fd);
  auto d = sha256_file(tmpl);
  unlink(tmpl);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ManifestTest, JsonRoundTrip) {
  auto text = fs::read_file(dir_ + "/manifest.json");
  ASSERT_THAT(text, IsOk());
  auto m = manifest_from_json(*text);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->kernel_version, "6.1.0-56-amd64");
  EXPECT_EQ(m->packages.at("dropbear"), "2022.83");
  EXPECT_EQ(m->artifacts.at("rootfs").file, "rootfs");
  EXPECT_EQ(m->artifacts.at("rootfs").size, std::string("content of rootfs").size());
  EXPECT_EQ(manifest_to_json(*m), *text);
}

TEST_F(ManifestTest, IntactImageVerifiesAndIsNotRehashed) {
  ImageVerifier v(root_);
  ASSERT_THAT(v.verify("minimal"), IsOk());
  EXPECT_EQ(v.hashes_for_test(), 3u);
  ASSERT_THAT(v.verify("minimal"), IsOk());
  EXPECT_EQ(v.hashes_for_test(), 3u);
}

TEST_F(ManifestTest, SameSizeChangeIsCorruptEvenAfterCaching) {
  ImageVerifier v(root_);
  ASSERT_THAT(v.verify("minimal"), IsOk());
  // Same length, different bytes, written in place: only ctime/mtime reveal it.
  FILE* f = fopen((dir_ + "/rootfs").c_str(), "r+");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fputs("CONTENT", f), 1);
  ASSERT_EQ(fclose(f), 0);
  EXPECT_THAT(v.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
  // A fresh verifier (new daemon) detects it as well.
  ImageVerifier fresh(root_);
  EXPECT_THAT(fresh.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
}

TEST_F(ManifestTest, ResizedOrMissingArtifactIsCorrupt) {
  ImageVerifier v(root_);
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/vmlinux", "x", 0644), IsOk());
  EXPECT_THAT(v.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
  ASSERT_EQ(unlink((dir_ + "/vmlinux").c_str()), 0);
  EXPECT_THAT(v.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
}

TEST_F(ManifestTest, TamperedManifestIsCorrupt) {
  ImageVerifier v(root_);
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/manifest.json", "{not json", 0644), IsOk());
  EXPECT_THAT(v.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
  ASSERT_THAT(fs::write_file_atomic(dir_ + "/manifest.json",
                                    R"({"format":1,"profile":"minimal","kernel":{"version":"k"},)"
                                    R"("lobsterInit":{"buildId":"b"},"artifacts":{"rootfs":)"
                                    R"({"file":"../x","sha256":"00","size":1}}})",
                                    0644),
              IsOk());
  EXPECT_THAT(v.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
}

TEST_F(ManifestTest, UnbuiltProfileIsMissing) {
  ImageVerifier v(root_);
  EXPECT_THAT(v.verify("openclaw"), HasError(ErrorCode::kImageMissing));
}

}  // namespace
}  // namespace lobster::image
