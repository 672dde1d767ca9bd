// Needs root (new pid and mount namespaces): label e2e.
#include "host/jail/jail.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/fs.h"
#include "core/testing/matchers.h"

namespace lobster::jail {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

void require_root() {
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr)
      FAIL() << "CI=true but not root";
    GTEST_SKIP() << "needs root";
  }
}

TEST(Jail, ChildIsPidOneInItsOwnSessionAndPlacedBeforeExec) {
  require_root();
  char tmpl[] = "/tmp/lobster-jail-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string out_path = dir + "/out";
  UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  UniqueFd extra(::open("/dev/zero", O_RDONLY | O_CLOEXEC));
  UniqueFd leaked(::open("/dev/zero", O_RDONLY));  // no O_CLOEXEC: must still not leak
  pid_t placed = 0;
  auto child =
      spawn({.argv = {"/bin/sh", "-c",
                      "echo pid=$$ sid=$(cut -d' ' -f6 /proc/self/stat) "
                      "fd3=$(test -e /proc/self/fd/3 && echo yes) "
                      "leak=$(test -e /proc/self/fd/" +
                          std::to_string(leaked.get()) + " && echo yes || echo no); exec sleep 60"},
             .env = {"PATH=/bin:/usr/bin"},
             .fds = {{extra.get(), 3}},
             .stdout_fd = out.get(),
             .before_exec = [&](pid_t pid) {
               placed = pid;
               return ok();
             }});
  ASSERT_THAT(child, IsOk());
  EXPECT_EQ(placed, child->pid);
  EXPECT_FALSE(exited(child->pidfd.get()));
  std::string text;
  for (int i = 0; i < 500 && text.find('\n') == std::string::npos; ++i) {
    ::usleep(10000);
    text = fs::read_file(out_path).value_or("");
  }
  // pid 1 of a new pid namespace; `cut` is a child of sh in that namespace.
  EXPECT_NE(text.find("pid=1 "), std::string::npos) << text;
  EXPECT_NE(text.find("fd3=yes"), std::string::npos) << text;
  EXPECT_NE(text.find("leak=no"), std::string::npos) << text;
  // Own session: the session id (as seen by the host) is the child's own pid.
  auto stat = fs::read_file("/proc/" + std::to_string(child->pid) + "/stat");
  ASSERT_THAT(stat, IsOk());
  EXPECT_NE(::getsid(child->pid), ::getsid(0));
  ASSERT_THAT(kill(child->pidfd.get(), SIGKILL), IsOk());
  EXPECT_TRUE(wait_exit(child->pidfd.get(), 5000));
  EXPECT_TRUE(exited(child->pidfd.get()));
  std::filesystem::remove_all(dir);
}

TEST(Jail, FailedPlacementNeverExecs) {
  require_root();
  auto child = spawn({.argv = {"/bin/sh", "-c", "exit 0"}, .before_exec = [](pid_t) -> Status {
                        return make_error(ErrorCode::kCgroupFailed, "no cgroup");
                      }});
  EXPECT_THAT(child, HasError(ErrorCode::kCgroupFailed));
}

// The daemon can be killed (kill -9) between clone and "go": the waiting child must then exit
// on its own instead of blocking forever outside any cgroup where recovery could find it.
TEST(Jail, ChildExitsWhenItsParentDiesBeforeExec) {
  require_root();
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  UniqueFd report_r(report[0]);
  UniqueFd report_w(report[1]);
  pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    // Stands in for the daemon: dies while the child waits for placement.
    (void)spawn({.argv = {"/bin/sleep", "60"}, .before_exec = [&](pid_t pid) -> Status {
                   (void)::write(report_w.get(), &pid, sizeof(pid));
                   ::_exit(0);
                 }});
    ::_exit(1);
  }
  report_w.reset();
  pid_t child = 0;
  ASSERT_EQ(::read(report_r.get(), &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));
  int status = 0;
  ASSERT_EQ(::waitpid(parent, &status, 0), parent);
  auto pidfd = pidfd_open(child);
  if (!pidfd)
    return;  // already gone (and reaped by init): the behaviour we want
  EXPECT_TRUE(wait_exit(pidfd->get(), 10000)) << "orphaned child " << child << " still waits";
  (void)kill(pidfd->get(), SIGKILL);  // only if the test failed: do not leak it
}

TEST(Jail, PidfdOpenOfMissingProcessFails) {
  EXPECT_THAT(pidfd_open(0x3fffffff), HasError(ErrorCode::kInvalidState));
  auto self = pidfd_open(::getpid());
  ASSERT_THAT(self, IsOk());
  EXPECT_FALSE(exited(self->get()));
}

}  // namespace
}  // namespace lobster::jail
