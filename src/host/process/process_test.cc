#include "host/process/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::process {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(ProcessRunnerTest, CapturesOutputAndExitCode) {
  PosixProcessRunner runner;
  auto r = runner.run({"sh", "-c", "echo out; echo err >&2; exit 3"}, {});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(ProcessRunnerTest, FeedsStdin) {
  PosixProcessRunner runner;
  std::string big(1 << 20, 'x');
  auto r = runner.run({"wc", "-c"}, {.stdin_data = big});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->out, "1048576\n");
}

TEST(ProcessRunnerTest, LargeStdinAndStdoutDoNotDeadlock) {
  // cat echoes while we are still writing: both pipes fill up unless stdin is non-blocking.
  PosixProcessRunner runner;
  std::string big(8 << 20, 'y');
  auto r = runner.run({"cat"}, {.stdin_data = big, .timeout_ms = 20'000, .max_output = 16 << 20});
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->out.size(), big.size());
}

TEST(ProcessRunnerTest, CheckedFailureHasExitCodeAndStderr) {
  PosixProcessRunner runner;
  auto r = runner.run_checked({"sh", "-c", "echo boom >&2; exit 2"});
  ASSERT_THAT(r, HasError(ErrorCode::kExecFailed));
  EXPECT_EQ(r.error().message, "command failed (exit 2): sh -c 'echo boom >&2; exit 2'");
  EXPECT_EQ(r.error().detail, "boom");
}

TEST(ProcessRunnerTest, TimeoutKills) {
  PosixProcessRunner runner;
  auto r = runner.run_checked({"sleep", "30"}, {.timeout_ms = 200});
  EXPECT_THAT(r, HasError(ErrorCode::kExecTimeout));
}

TEST(ProcessRunnerTest, MissingBinaryIsExecFailed) {
  PosixProcessRunner runner;
  EXPECT_THAT(runner.run({"/nonexistent/binary"}, {}), HasError(ErrorCode::kExecFailed));
}

TEST(ProcessRunnerTest, ExplicitEnvironment) {
  PosixProcessRunner runner;
  auto r = runner.run({"/bin/sh", "-c", "echo $FOO-$HOME"},
                      {.env = std::map<std::string, std::string>{{"FOO", "bar"}}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->out, "bar-\n");
}

TEST(ProcessRunnerTest, FindExecutable) {
  EXPECT_TRUE(find_executable("sh").has_value());
  EXPECT_FALSE(find_executable("definitely-not-a-binary-xyz").has_value());
}

}  // namespace
}  // namespace lobster::process
