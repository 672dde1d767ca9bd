// SupervisedProcess with a real child (sleep): spawn, adoption by a second supervisor (what a
// restarted daemon does), restart after a kill, stop_recorded().
#include "proxy/supervised.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"
#include "host/process/process.h"

namespace lobster::proxy {
namespace {

using ::lobster::testing::IsOk;

class SupervisedProcessTest : public ::testing::Test {
 protected:
  ProcessSpec spec(bool supervise) {
    return ProcessSpec{.name = "sleeper",
                       .argv = {*process::find_executable("sleep"), "300"},
                       .env = {},
                       .pid_file = tmp_.path() + "/sleeper.pid",
                       .log_file = tmp_.path() + "/sleeper.log",
                       .adopt_arg = "300",
                       .error_code = ErrorCode::kInternal,
                       .supervise = supervise};
  }
  static bool eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 200; ++i) {
      if (pred())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  lobster::testing::TempDir tmp_;
};

TEST_F(SupervisedProcessTest, SpawnsAdoptsRestartsAndStops) {
  auto first = SupervisedProcess::start(spec(true));
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE((*first)->adopted());
  const int pid = (*first)->pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(*fs::read_file(tmp_.path() + "/sleeper.pid"), std::to_string(pid) + "\n");
  first->reset();  // the supervisor goes (daemon exit); the process stays
  EXPECT_FALSE(process::process_exited(pid));

  auto second = SupervisedProcess::start(spec(true));
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE((*second)->adopted());
  EXPECT_EQ((*second)->pid(), pid);
  EXPECT_TRUE((*second)->healthy());

  // A killed process is started again by the supervisor.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return (*second)->pid() != pid && (*second)->pid() > 0; }));
  const int restarted = (*second)->pid();
  EXPECT_THAT((*second)->stop(), IsOk());
  EXPECT_TRUE(eventually([&] { return process::process_exited(restarted); }));
  EXPECT_FALSE(fs::exists(tmp_.path() + "/sleeper.pid"));
}

TEST_F(SupervisedProcessTest, StopRecordedEndsOnlyOurProcess) {
  auto p = SupervisedProcess::start(spec(false));
  ASSERT_THAT(p, IsOk());
  const int pid = (*p)->pid();
  p->reset();
  ProcessSpec other = spec(false);
  other.adopt_arg = "301";  // same executable, other command line: not ours
  EXPECT_THAT(SupervisedProcess::stop_recorded(other), IsOk());
  EXPECT_FALSE(process::process_exited(pid));
  ASSERT_THAT(fs::write_file_atomic(tmp_.path() + "/sleeper.pid", std::to_string(pid) + "\n"),
              IsOk());
  EXPECT_THAT(SupervisedProcess::stop_recorded(spec(false)), IsOk());
  EXPECT_TRUE(eventually([&] { return process::process_exited(pid); }));
}

}  // namespace
}  // namespace lobster::proxy
