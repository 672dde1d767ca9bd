#include "cli/foreground_child.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "core/unique_fd.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawnp

namespace lobster::cli {
namespace {

// Restores SIGINT/SIGQUIT dispositions on scope exit.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigemptyset(&ign.sa_mask);
    ::sigaction(SIGINT, &ign, &old_int_);
    ::sigaction(SIGQUIT, &ign, &old_quit_);
  }
  ~IgnoreInterrupts() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

int status_to_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

Result<int> run_foreground(const std::vector<std::string>& argv, int64_t tick_ms,
                           const std::function<void()>& tick) {
  if (argv.empty())
    return make_error(ErrorCode::kInternal, "run_foreground: empty argv");
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);

  IgnoreInterrupts ignore;
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t defaults;
  ::sigemptyset(&defaults);
  ::sigaddset(&defaults, SIGINT);
  ::sigaddset(&defaults, SIGQUIT);
  ::sigaddset(&defaults, SIGPIPE);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t empty;
  ::sigemptyset(&empty);
  ::posix_spawnattr_setsigmask(&attr, &empty);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, cargv[0], nullptr, &attr, cargv.data(), environ);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return errno_error(ErrorCode::kExecFailed, "start " + argv[0]);
  }
  // A pidfd makes the wait pollable with a timeout for the keepalive ticks.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  int status = 0;
  while (true) {
    if (pidfd) {
      pollfd p{pidfd.get(), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(tick_ms));
      if (n == 0) {
        if (tick)
          tick();
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
    }
    pid_t w = ::waitpid(pid, &status, 0);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR)
      return errno_error(ErrorCode::kExecFailed, "wait for " + argv[0]);
  }
  return status_to_code(status);
}

}  // namespace lobster::cli
