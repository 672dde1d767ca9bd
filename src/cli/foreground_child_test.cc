#include "cli/foreground_child.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "core/testing/matchers.h"

namespace lobster::cli {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(ForegroundChildTest, ReturnsExitCodeAndSignalAs128PlusN) {
  auto seven = run_foreground({"sh", "-c", "exit 7"}, 1000, nullptr);
  ASSERT_THAT(seven, IsOk());
  EXPECT_EQ(*seven, 7);
  auto killed = run_foreground({"sh", "-c", "kill -9 $$"}, 1000, nullptr);
  ASSERT_THAT(killed, IsOk());
  EXPECT_EQ(*killed, 128 + SIGKILL);
  EXPECT_THAT(run_foreground({"/nonexistent/lobster-no-such-binary"}, 1000, nullptr),
              HasError(ErrorCode::kExecFailed));
}

TEST(ForegroundChildTest, ChildGetsDefaultInterruptsWhileTheCliIgnoresThem) {
  // The child reports its SIGINT disposition; SigIgn bit 2 (SIGINT) must be clear in the child.
  auto code = run_foreground(
      {"sh", "-c", "m=$(grep SigIgn /proc/self/status | cut -f2); [ $((0x$m & 2)) -eq 0 ]"}, 1000,
      nullptr);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0);
  // And the CLI's own disposition is restored afterwards.
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(ForegroundChildTest, TicksWhileTheChildRuns) {
  int ticks = 0;
  auto code = run_foreground({"sh", "-c", "sleep 1"}, 50, [&] { ++ticks; });
  ASSERT_THAT(code, IsOk());
  EXPECT_GE(ticks, 1);
}

}  // namespace
}  // namespace lobster::cli
