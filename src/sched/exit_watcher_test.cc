#include "sched/exit_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <vector>

#include "core/fs.h"

namespace lobster::sched {
namespace {

using ::testing::HasSubstr;

int64_t start_time_of(pid_t pid) {
  std::string stat = *fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t pos = stat.rfind(')') + 2;
  for (int field = 3; field < 22; ++field) pos = stat.find(' ', pos) + 1;
  return std::stoll(stat.substr(pos, stat.find(' ', pos) - pos));
}

pid_t spawn_sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

bool is_zombie_or_gone(pid_t pid) {
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat)
    return true;
  return stat->find(") Z ") != std::string::npos;
}

class ExitWatcherTest : public ::testing::Test {
 protected:
  ExitWatcher watcher_{[this](VmExit e) {
                         std::lock_guard lock(mu_);
                         exits_.push_back(std::move(e));
                         cv_.notify_all();
                       },
                       [this](const std::string&) { return oom_kills_; }};
  bool wait_exits(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return exits_.size() >= n; });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<VmExit> exits_;
  int64_t oom_kills_ = 0;
};

TEST_F(ExitWatcherTest, KilledChildIsReapedAndReportedWithItsSignal) {
  pid_t pid = spawn_sleeper();
  ASSERT_GT(pid, 0);
  watcher_.start();
  watcher_.sync({{"alice", {pid, start_time_of(pid)}}});
  EXPECT_EQ(watcher_.watched(), 1u);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_exits(1));
  watcher_.stop();
  VmExit e = exits_[0];
  EXPECT_EQ(e.tenant, "alice");
  EXPECT_EQ(e.vm.pid, pid);
  EXPECT_TRUE(e.reaped);
  EXPECT_EQ(e.signal, SIGKILL);
  EXPECT_FALSE(e.oom());
  EXPECT_THAT(e.cause(), HasSubstr("killed by signal 9 (SIGKILL)"));
  // No zombie left: the pid is gone (waitpid has nothing more to collect).
  EXPECT_TRUE(is_zombie_or_gone(pid));
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(watcher_.watched(), 0u);
  // The store still records it until the repair: a later sync does not report it again.
  watcher_.sync({{"alice", {pid, e.vm.start_time}}});
  EXPECT_EQ(exits_.size(), 1u);
}

TEST_F(ExitWatcherTest, OomKillIsNamedAsTheCause) {
  oom_kills_ = 1;
  pid_t pid = spawn_sleeper();
  watcher_.start();
  watcher_.sync({{"bob", {pid, start_time_of(pid)}}});
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(wait_exits(1));
  EXPECT_TRUE(exits_[0].oom());
  EXPECT_THAT(exits_[0].cause(), HasSubstr("OOM-killed by its memory cgroup"));
  EXPECT_THAT(exits_[0].cause(), HasSubstr("oom_kill=1"));
}

TEST_F(ExitWatcherTest, NormalExitStatusIsReported) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::usleep(200'000);
    ::_exit(3);
  }
  watcher_.start();
  watcher_.sync({{"c", {pid, start_time_of(pid)}}});
  ASSERT_TRUE(wait_exits(1));
  EXPECT_EQ(exits_[0].exit_code, 3);
  EXPECT_THAT(exits_[0].cause(), HasSubstr("exited with status 3"));
}

TEST_F(ExitWatcherTest, GoneOrRecycledPidIsReportedAtOnceAndNeverWatched) {
  pid_t pid = spawn_sleeper();
  int64_t start = start_time_of(pid);
  // A stored identity whose start time differs names another (recycled) process.
  watcher_.sync({{"recycled", {pid, start + 1}}, {"gone", {999'999'999, 5}}});
  EXPECT_EQ(watcher_.watched(), 0u);
  ASSERT_EQ(exits_.size(), 2u);
  EXPECT_TRUE(exits_[0].found_gone);
  EXPECT_THAT(exits_[0].cause(), HasSubstr("not running"));
  watcher_.sync({{"recycled", {pid, start + 1}}, {"gone", {999'999'999, 5}}});
  EXPECT_EQ(exits_.size(), 2u);  // reported once
  watcher_.sync({});
  watcher_.sync({{"gone", {999'999'999, 5}}});
  EXPECT_EQ(exits_.size(), 3u);  // forgotten when no longer wanted
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_F(ExitWatcherTest, UnwantedWatchesAreDroppedWithoutEvents) {
  pid_t pid = spawn_sleeper();
  watcher_.start();
  watcher_.sync({{"a", {pid, start_time_of(pid)}}});
  watcher_.sync({});
  EXPECT_EQ(watcher_.watched(), 0u);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  watcher_.stop();
  EXPECT_TRUE(exits_.empty());
}

}  // namespace
}  // namespace lobster::sched
