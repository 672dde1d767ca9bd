// Needs root (new pid and mount namespaces): label e2e.
#include "host/jail/jail.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
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

TEST(Jail, PidfdOpenOfMissingProcessFails) {
  EXPECT_THAT(pidfd_open(0x3fffffff), HasError(ErrorCode::kInvalidState));
  auto self = pidfd_open(::getpid());
  ASSERT_THAT(self, IsOk());
  EXPECT_FALSE(exited(self->get()));
}

}  // namespace
}  // namespace lobster::jail
