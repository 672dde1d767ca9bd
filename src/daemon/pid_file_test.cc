#include "daemon/pid_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "store/testing/temp_dir.h"

namespace lobster::daemon {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(PidFileTest, SecondOwnerIsRefusedUntilTheFirstIsGone) {
  store::testing::TempDir tmp;
  std::string path = tmp.path() + "/lobsterd.pid";
  EXPECT_THAT(PidFile::holder(path), ::testing::Optional(std::nullopt));
  {
    auto first = PidFile::acquire(path);
    ASSERT_THAT(first, IsOk());
    auto text = fs::read_file(path);
    ASSERT_THAT(text, IsOk());
    EXPECT_EQ(*text, std::to_string(::getpid()) + "\n");
    auto holder = PidFile::holder(path);
    ASSERT_THAT(holder, IsOk());
    EXPECT_EQ(*holder, std::optional<pid_t>(::getpid()));

    auto second = PidFile::acquire(path);
    ASSERT_THAT(second, HasError(ErrorCode::kDaemonRunning));
    EXPECT_THAT(second.error().message, ::testing::HasSubstr(std::to_string(::getpid())));
  }
  EXPECT_FALSE(fs::exists(path));  // removed by its owner
  EXPECT_THAT(PidFile::acquire(path), IsOk());
}

TEST(PidFileTest, LockOfADeadProcessIsFree) {
  store::testing::TempDir tmp;
  std::string path = tmp.path() + "/lobsterd.pid";
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = PidFile::acquire(path);
    // Die without running destructors, like a kill -9: the stale file stays behind.
    ::_exit(held ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(fs::exists(path));
  auto holder = PidFile::holder(path);
  ASSERT_THAT(holder, IsOk());
  EXPECT_EQ(*holder, std::nullopt);
  EXPECT_THAT(PidFile::acquire(path), IsOk());
}

}  // namespace
}  // namespace lobster::daemon
