#include "host/process/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/fs.h"
#include "core/unique_fd.h"

extern char** environ;

namespace lobster::process {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return errno_error(ErrorCode::kExecFailed, "pipe2");
  }
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

std::string argv_to_string(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty())
      out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'') {
          out += "'\\''";
        } else {
          out += c;
        }
      }
      out += '\'';
    }
  }
  return out;
}

std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
  }
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
  std::string p =
      path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos)
      end = p.size();
    std::string dir = p.substr(start, end - start);
    if (!dir.empty()) {
      std::string cand = dir + "/" + name;
      if (::access(cand.c_str(), X_OK) == 0)
        return cand;
    }
    start = end + 1;
  }
  return std::nullopt;
}

Result<RunResult> ProcessRunner::run_checked(const std::vector<std::string>& argv,
                                             const RunOptions& options) {
  RunResult r = LOB_TRY(run(argv, options));
  if (r.timed_out) {
    Error e{ErrorCode::kExecTimeout, fmt::format("command timed out after {} ms: {}",
                                                 options.timeout_ms, argv_to_string(argv))};
    e.detail = r.err;
    return make_error(std::move(e));
  }
  if (r.exit_code != 0) {
    Error e{
        ErrorCode::kExecFailed,
        r.term_signal != 0
            ? fmt::format("command killed by signal {}: {}", r.term_signal, argv_to_string(argv))
            : fmt::format("command failed (exit {}): {}", r.exit_code, argv_to_string(argv))};
    e.detail = r.err;
    while (!e.detail.empty() && (e.detail.back() == '\n' || e.detail.back() == ' ')) {
      e.detail.pop_back();
    }
    return make_error(std::move(e));
  }
  return r;
}

Result<RunResult> PosixProcessRunner::run(const std::vector<std::string>& argv,
                                          const RunOptions& options) {
  if (argv.empty()) {
    return make_error(ErrorCode::kInternal, "run: empty argv");
  }
  auto [in_r, in_w] = LOB_TRY(make_pipe());
  auto [out_r, out_w] = LOB_TRY(make_pipe());
  auto [err_r, err_w] = LOB_TRY(make_pipe());

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), STDERR_FILENO);
  if (!options.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigfillset(&defaults);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_storage;
  std::vector<char*> cenv;
  char** envp = environ;
  if (options.env) {
    for (const auto& [k, v] : *options.env) env_storage.push_back(k + "=" + v);
    for (auto& s : env_storage) cenv.push_back(s.data());
    cenv.push_back(nullptr);
    envp = cenv.data();
  }

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return make_sys_error(ErrorCode::kExecFailed, rc, "spawn " + argv[0]);
  }
  // The child is ours and not yet reaped, so its pid cannot be reused before pidfd_open.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  in_r.reset();
  out_w.reset();
  err_w.reset();

  RunResult result;
  size_t in_off = 0;
  if (options.stdin_data.empty())
    in_w.reset();
  // A blocking write of more than a pipe buffer would wait for the child to read while the
  // child waits for us to drain its stdout: write stdin without blocking.
  if (in_w)
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  int64_t deadline = mono_ms() + options.timeout_ms;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open || in_w) {
    std::vector<pollfd> pfds;
    if (out_open)
      pfds.push_back({out_r.get(), POLLIN, 0});
    if (err_open)
      pfds.push_back({err_r.get(), POLLIN, 0});
    if (in_w)
      pfds.push_back({in_w.get(), POLLOUT, 0});
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    int n = ::poll(pfds.data(), pfds.size(), static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n < 0 && errno != EINTR)
      break;
    for (const auto& p : pfds) {
      if (p.revents == 0)
        continue;
      if (p.fd == in_w.get()) {
        ssize_t w = ::write(in_w.get(), options.stdin_data.data() + in_off,
                            options.stdin_data.size() - in_off);
        if (w > 0)
          in_off += static_cast<size_t>(w);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
          continue;
        if (w < 0 || in_off >= options.stdin_data.size())
          in_w.reset();
        continue;
      }
      ssize_t r = ::read(p.fd, buf, sizeof(buf));
      bool is_out = p.fd == out_r.get();
      if (r <= 0) {
        if (r < 0 && errno == EINTR)
          continue;
        (is_out ? out_open : err_open) = false;
        continue;
      }
      std::string& dst = is_out ? result.out : result.err;
      if (dst.size() < options.max_output) {
        dst.append(buf, std::min(static_cast<size_t>(r), options.max_output - dst.size()));
      }
    }
  }
  in_w.reset();
  if (result.timed_out) {
    if (pidfd) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    } else {
      ::kill(pid, SIGKILL);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

bool process_exited(pid_t pid) {
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat)
    return true;
  // The state letter follows the command name, which may itself contain ')'.
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

}  // namespace lobster::process
