#include "daemon/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "daemon/systemd.h"
#include "store/testing/temp_dir.h"

namespace lobster::daemon {
namespace {

using ::lobster::testing::IsOk;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(LayoutTest, CreatesDirectoriesWithTheirModesAndRemovesThem) {
  store::testing::TempDir tmp;
  Paths paths = Paths::under(tmp.path() + "/r");
  ASSERT_THAT(ensure_layout(paths), IsOk());
  ASSERT_THAT(ensure_layout(paths), IsOk());  // idempotent
  EXPECT_EQ(mode_of(paths.config_dir), 0711u);
  EXPECT_EQ(mode_of(paths.keys_dir()), 0700u);
  EXPECT_EQ(mode_of(paths.data_dir), 0711u);
  EXPECT_EQ(mode_of(paths.overlays_dir()), 0700u);
  EXPECT_EQ(mode_of(paths.snapshots_dir()), 0700u);
  EXPECT_EQ(mode_of(paths.run_dir), 0755u);
  EXPECT_EQ(mode_of(paths.log_dir), 0700u);
  ASSERT_THAT(remove_layout(paths), IsOk());
  EXPECT_FALSE(fs::exists(paths.root));
  ASSERT_THAT(remove_layout(paths), IsOk());  // nothing left is fine
}

TEST(LayoutTest, RootWithOtherContentIsKept) {
  store::testing::TempDir tmp;
  Paths paths = Paths::under(tmp.path());
  ASSERT_THAT(ensure_layout(paths), IsOk());
  ASSERT_THAT(fs::write_file_atomic(tmp.path() + "/mine", "x", 0600), IsOk());
  ASSERT_THAT(remove_layout(paths), IsOk());
  EXPECT_FALSE(fs::exists(paths.config_dir));
  EXPECT_TRUE(fs::exists(tmp.path() + "/mine"));
}

TEST(SystemdTest, UnitPerRootRunsTheForegroundDaemonAndSparesVmms) {
  Paths system = Paths::under("");
  Paths custom = Paths::under("/srv/lobster-a");
  EXPECT_EQ(unit_name(system), "lobsterd.service");
  EXPECT_THAT(unit_name(custom), ::testing::MatchesRegex("lobsterd-[0-9a-f]{8}\\.service"));
  EXPECT_NE(unit_name(custom), unit_name(Paths::under("/srv/lobster-b")));
  std::string text = unit_text(custom, "/usr/local/bin/lobsterd");
  EXPECT_THAT(text,
              ::testing::HasSubstr(
                  "ExecStart=/usr/local/bin/lobsterd --root /srv/lobster-a daemon --foreground\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("KillMode=process\n"));
  EXPECT_THAT(unit_text(system, "/b"), ::testing::HasSubstr("ExecStart=/b daemon --foreground\n"));
}

}  // namespace
}  // namespace lobster::daemon
