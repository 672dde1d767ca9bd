#include "image/openclaw_patches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"

namespace lobster::image {
namespace {

using testing::HasError;
using testing::IsOk;
using testing::TempDir;

TEST(ApplyPatch, ReplacesEveryOccurrence) {
  std::string text = "a = 5e3; b = 5e3;";
  EXPECT_EQ(apply_patch(text, {"5e3", "6e4"}), 2u);
  EXPECT_EQ(text, "a = 6e4; b = 6e4;");
  EXPECT_EQ(apply_patch(text, {"5e3", "6e4"}), 0u);
}

TEST(ApplyPatch, ReplacementContainingThePatternDoesNotLoop) {
  std::string text = "x x";
  EXPECT_EQ(apply_patch(text, {"x", "xx"}), 2u);
  EXPECT_EQ(text, "xx xx");
}

TEST(ApplySourcePatches, RewritesOnlyScriptsAndKeepsModes) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/state");
  ASSERT_THAT(fs::write_file_atomic(dir.path() + "/shared.mjs",
                                    "const LEASE_HEARTBEAT_START_TIMEOUT_MS = 5e3;\n", 0644),
              IsOk());
  ASSERT_THAT(fs::write_file_atomic(dir.path() + "/state/w.js",
                                    "const WORKER_RESPONSE_TIMEOUT_MS = 1e3;\n", 0755),
              IsOk());
  ASSERT_THAT(fs::write_file_atomic(dir.path() + "/notes.md",
                                    "LEASE_HEARTBEAT_START_TIMEOUT_MS = 5e3\n", 0644),
              IsOk());
  ASSERT_THAT(apply_openclaw_patches(dir.path()), IsOk());
  EXPECT_EQ(*fs::read_file(dir.path() + "/shared.mjs"),
            "const LEASE_HEARTBEAT_START_TIMEOUT_MS = 6e4;\n");
  EXPECT_EQ(*fs::read_file(dir.path() + "/state/w.js"),
            "const WORKER_RESPONSE_TIMEOUT_MS = 1e4;\n");
  EXPECT_EQ(*fs::read_file(dir.path() + "/notes.md"), "LEASE_HEARTBEAT_START_TIMEOUT_MS = 5e3\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/state/w.js").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST(ApplySourcePatches, FailsWhenAPatchMatchesNowhere) {
  TempDir dir;
  ASSERT_THAT(fs::write_file_atomic(dir.path() + "/shared.mjs",
                                    "const LEASE_HEARTBEAT_START_TIMEOUT_MS = 5e3;\n", 0644),
              IsOk());
  EXPECT_THAT(apply_openclaw_patches(dir.path()), HasError(ErrorCode::kImageBuildFailed));
  EXPECT_THAT(apply_openclaw_patches(dir.path() + "/missing"),
              HasError(ErrorCode::kImageBuildFailed));
}

}  // namespace
}  // namespace lobster::image
