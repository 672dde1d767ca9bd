// start_detached(): the daemon without systemd. Double fork + setsid so the daemon has no
// controlling terminal and is not a child of the CLI; a pipe carries "ready"/"error" back.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>

#include "api/http_status.h"
#include "core/unique_fd.h"
#include "daemon/daemon.h"

namespace lobster::daemon {
namespace {

[[noreturn]] void become_daemon(const Paths& paths, int ready_fd) {
  if (::setsid() < 0)
    ::_exit(1);
  pid_t second = ::fork();
  if (second < 0)
    ::_exit(1);
  if (second > 0)
    ::_exit(0);  // The session leader exits; the daemon can never regain a tty.
  ::umask(022);
  if (::chdir("/") != 0)
    ::_exit(1);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    ::_exit(1);
  for (int fd = 0; fd <= 2; ++fd) ::dup2(null_fd, fd);
  ::close(null_fd);
  ::signal(SIGHUP, SIG_IGN);
  Status s = run_foreground(paths, {.log_to_stderr = false, .ready_fd = ready_fd});
  ::_exit(s ? 0 : 1);
}

// Reads the child's one-line report until EOF or the deadline.
Result<std::string> read_report(int fd, int timeout_ms) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      return make_error(ErrorCode::kExecTimeout, "daemon not ready within {} ms", timeout_ms);
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno_error(ErrorCode::kInternal, "poll daemon start-up pipe");
    if (n == 0)
      continue;
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return errno_error(ErrorCode::kInternal, "read daemon start-up pipe");
    if (got == 0)
      return text;
    text.append(buf, static_cast<size_t>(got));
  }
}

}  // namespace

Result<pid_t> start_detached(const Paths& paths, int timeout_ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return errno_error(ErrorCode::kInternal, "pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  pid_t child = ::fork();
  if (child < 0)
    return errno_error(ErrorCode::kInternal, "fork daemon");
  if (child == 0) {
    read_end.reset();
    become_daemon(paths, write_end.release());
  }
  write_end.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::string report = LOB_TRY(read_report(read_end.get(), timeout_ms));
  if (report.rfind("ready ", 0) == 0) {
    return static_cast<pid_t>(std::stol(report.substr(6)));
  }
  if (report.rfind("error ", 0) == 0) {
    Error e = api::error_from_reply(500, report.substr(6));
    if (e.hint.empty())
      e.hint = "see the daemon log at " + paths.daemon_log();
    return make_error(std::move(e));
  }
  Error e{ErrorCode::kInternal, "the daemon exited during start-up without a report"};
  e.hint = "see the daemon log at " + paths.daemon_log();
  return make_error(std::move(e));
}

}  // namespace lobster::daemon
