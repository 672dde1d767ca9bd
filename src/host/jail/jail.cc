#include "host/jail/jail.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace lobster::jail {
namespace {

constexpr int kHighFd = 200;  // staging area for fds before they are moved to their targets

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Runs in the cloned child: only async-signal-safe calls until execve.
[[noreturn]] void child_main(int sync_fd, int sync_write_fd, int null_fd, int out_fd, int err_fd,
                             const std::vector<std::pair<int, int>>& staged,
                             const std::vector<int>& sorted_targets, char* const* argv,
                             char* const* envp, bool new_ns) {
  // Our copy of the write end must go, or a parent killed before it says "go" (kill -9 of the
  // daemon) would leave us blocked in read() forever, outside any cgroup: EOF must mean exit.
  ::close(sync_write_fd);
  char go = 0;
  if (::read(sync_fd, &go, 1) != 1)
    ::_exit(126);
  ::setsid();
  if (new_ns) {
    // Keep our mounts from propagating back to the host namespace.
    ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  }
  sigset_t all;
  ::sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::dup2(null_fd, 0);
  ::dup2(out_fd >= 0 ? out_fd : null_fd, 1);
  ::dup2(err_fd >= 0 ? err_fd : null_fd, 2);
  for (const auto& [src, dst] : staged) {
    ::dup2(src, dst);  // dup2 clears FD_CLOEXEC on the target.
  }
  // Close every other inherited fd, including ones a careless library left without
  // O_CLOEXEC: the VMM gets exactly stdio and the listed fds.
  unsigned int next = 3;
  for (int target : sorted_targets) {
    if (static_cast<unsigned int>(target) > next) {
      ::syscall(SYS_close_range, next, static_cast<unsigned int>(target) - 1, 0U);
    }
    next = static_cast<unsigned int>(target) + 1;
  }
  ::syscall(SYS_close_range, next, ~0U, 0U);
  ::execve(argv[0], argv, envp);
  ::_exit(127);
}

}  // namespace

Result<Spawned> spawn(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
    return make_error(ErrorCode::kValidationFailed, "spawn needs an absolute argv[0]");
  }
  auto argv = c_strings(spec.argv);
  auto envp = c_strings(spec.env);
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd)
    return errno_error(ErrorCode::kJailerSetupFailed, "open /dev/null");
  // Stage passed fds above every target number so dup2 in the child cannot clobber a source.
  std::vector<UniqueFd> staged_owned;
  std::vector<std::pair<int, int>> staged;
  for (const auto& [src, dst] : spec.fds) {
    int high = ::fcntl(src, F_DUPFD_CLOEXEC, kHighFd);
    if (high < 0)
      return errno_error(ErrorCode::kJailerSetupFailed, "dup fd for child");
    staged_owned.emplace_back(high);
    staged.emplace_back(high, dst);
  }
  std::vector<int> targets;
  for (const auto& [src, dst] : spec.fds) {
    if (dst < 3)
      return make_error(ErrorCode::kValidationFailed, "fd target {} is stdio", dst);
    targets.push_back(dst);
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0)
    return errno_error(ErrorCode::kJailerSetupFailed, "pipe2");
  UniqueFd sync_r(sync[0]);
  UniqueFd sync_w(sync[1]);

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_PIDFD | (spec.new_namespaces ? (CLONE_NEWNS | CLONE_NEWPID) : 0);
  // Kernel ABI: clone_args.pidfd is a u64 holding a pointer to an int.
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long rc = ::syscall(SYS_clone3, &args, sizeof(args));
  if (rc < 0)
    return errno_error(ErrorCode::kJailerSetupFailed, "clone3 " + spec.argv[0]);
  if (rc == 0) {
    child_main(sync_r.get(), sync_w.get(), null_fd.get(), spec.stdout_fd, spec.stderr_fd, staged,
               targets, argv.data(), envp.data(), spec.new_namespaces);
  }
  Spawned out;
  out.pid = static_cast<pid_t>(rc);
  out.pidfd.reset(pidfd);
  sync_r.reset();
  if (spec.before_exec) {
    auto placed = spec.before_exec(out.pid);
    if (!placed) {
      sync_w.reset();                        // EOF: the child exits without exec.
      (void)kill(out.pidfd.get(), SIGKILL);  // Best effort: it is waited for next.
      wait_exit(out.pidfd.get(), 5000);
      Error e = placed.error();
      e.message = "place " + spec.argv[0] + " before exec: " + e.message;
      return std::unexpected(e);
    }
  }
  char go = 1;
  if (::write(sync_w.get(), &go, 1) != 1) {
    int err = errno;
    (void)kill(out.pidfd.get(), SIGKILL);  // Best effort: it is waited for next.
    wait_exit(out.pidfd.get(), 5000);
    return make_sys_error(ErrorCode::kJailerSetupFailed, err, "release child " + spec.argv[0]);
  }
  return out;
}

Result<UniqueFd> pidfd_open(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0)
    return errno_error(ErrorCode::kInvalidState, fmt::format("pidfd_open {}", pid));
  return UniqueFd(static_cast<int>(fd));
}

Status kill(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 && errno != ESRCH) {
    return errno_error(ErrorCode::kVmmFailed, fmt::format("signal {} via pidfd", sig));
  }
  return ok();
}

bool exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

bool wait_exit(int pidfd, int64_t timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
    if (r > 0)
      break;
    if (r == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
  siginfo_t info{};
  // Reaps our own child; a re-attached process (not our child) yields ECHILD, which is fine.
  ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  return true;
}

}  // namespace lobster::jail
