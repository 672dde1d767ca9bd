#include "vmm/firecracker/jail_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace lobster::vmm::firecracker {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<UniqueFd> open_output(const std::string& path) {
  const std::string p = path.empty() ? "/dev/null" : path;
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd)
    return errno_error(ErrorCode::kExecFailed, "open " + p);
  return fd;
}

}  // namespace

Result<SpawnedProcess> spawn_session(const std::vector<std::string>& argv,
                                     const SpawnOptions& options) {
  if (argv.empty())
    return make_error(ErrorCode::kInternal, "spawn: empty argv");
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!in)
    return errno_error(ErrorCode::kExecFailed, "open /dev/null");
  UniqueFd out = LOB_TRY(open_output(options.stdout_path));
  UniqueFd err = LOB_TRY(open_output(options.stderr_path));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err.get(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  // A clean environment: nothing of the daemon's (tokens, proxies) leaks into the VMM.
  std::string path_env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return make_sys_error(ErrorCode::kExecFailed, rc, "spawn " + argv[0]);
  // The child is ours and not yet reaped, so its pid cannot be reused before pidfd_open.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return make_sys_error(ErrorCode::kExecFailed, e, "pidfd_open for " + argv[0]);
  }
  return SpawnedProcess{pid, std::move(pidfd)};
}

Result<UniqueFd> open_pidfd(pid_t pid) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd)
    return errno_error(ErrorCode::kInvalidState, "pidfd_open " + std::to_string(pid));
  return fd;
}

bool has_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

std::optional<std::string> exit_description(int pidfd) {
  if (!has_exited(pidfd))
    return std::nullopt;
  siginfo_t info{};
  // Kernel ABI: waitid(P_PIDFD) takes the pidfd as the id (Linux >= 5.4).
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
               WEXITED | WNOHANG) != 0) {
    return std::string("exited (status unknown: not our child)");
  }
  if (info.si_code == CLD_EXITED)
    return "exit status " + std::to_string(info.si_status);
  if (info.si_pid == 0)
    return std::string("exited (already reaped)");
  return "killed by signal " + std::to_string(info.si_status);
}

bool wait_exit(int pidfd, int64_t timeout_ms) {
  const int64_t deadline = mono_ms() + timeout_ms;
  for (;;) {
    pollfd p{pidfd, POLLIN, 0};
    const int64_t left = std::max<int64_t>(deadline - mono_ms(), 0);
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0)
      return true;
    if (n == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

Status kill_and_wait(int pidfd, int64_t timeout_ms) {
  if (!has_exited(pidfd) && ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0 &&
      errno != ESRCH) {
    return errno_error(ErrorCode::kVmmFailed, "pidfd_send_signal SIGKILL");
  }
  if (!wait_exit(pidfd, timeout_ms)) {
    return make_error(ErrorCode::kVmmFailed, "VMM process survived SIGKILL for {} ms", timeout_ms);
  }
  (void)exit_description(pidfd);  // reap if it is our child
  return ok();
}

std::string tail_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "";
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0));
  const size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string data(size - start, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (start > 0) {
    const size_t nl = data.find('\n');
    if (nl != std::string::npos)
      data.erase(0, nl + 1);
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == ' ')) data.pop_back();
  return data;
}

}  // namespace lobster::vmm::firecracker
