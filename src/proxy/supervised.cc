#include "proxy/supervised.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"

namespace lobster::proxy {
namespace {

int64_t mono_ms() { return SystemClock().monotonic_ms(); }

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_exited(int pidfd, int wait_ms) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, wait_ms) > 0;
}

std::string real_path(const std::string& p) {
  std::error_code ec;
  auto r = std::filesystem::canonical(p, ec);
  return ec ? p : r.string();
}

// True if /proc/<pid>/cmdline has `arg` as one of its arguments.
bool cmdline_has(int pid, const std::string& arg) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!text)
    return false;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\0', start);
    if (end == std::string::npos)
      end = text->size();
    if (text->compare(start, end - start, arg) == 0)
      return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

SupervisedProcess::SupervisedProcess(ProcessSpec spec)
    : spec_(std::move(spec)), wake_fd_(::eventfd(0, EFD_CLOEXEC)) {}

Result<std::unique_ptr<SupervisedProcess>> SupervisedProcess::start(ProcessSpec spec) {
  std::unique_ptr<SupervisedProcess> p(new SupervisedProcess(std::move(spec)));
  {
    std::lock_guard lock(p->mu_);
    p->adopted_ = p->adopt_locked();
    if (!p->adopted_)
      LOB_TRY(p->spawn_locked());
  }
  if (p->spec_.supervise)
    p->supervisor_ = std::thread([raw = p.get()] { raw->supervise_loop(); });
  return p;
}

Status SupervisedProcess::stop_recorded(ProcessSpec spec) {
  spec.ready = nullptr;  // a hung process is still ours to stop
  spec.supervise = false;
  SupervisedProcess p(std::move(spec));
  bool adopted = false;
  {
    std::lock_guard lock(p.mu_);
    adopted = p.adopt_locked();
  }
  if (!adopted) {
    ::unlink(p.spec_.pid_file.c_str());
    for (const auto& s : p.spec_.stale_sockets) ::unlink(s.c_str());
    return ok();
  }
  return p.stop();
}

SupervisedProcess::~SupervisedProcess() {
  stopping_ = true;
  uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof(one));
  if (supervisor_.joinable())
    supervisor_.join();
}

bool SupervisedProcess::adopt_locked() {
  auto text = fs::read_file(spec_.pid_file);
  if (!text)
    return false;
  int pid = std::atoi(text->c_str());
  if (pid <= 1)
    return false;
  UniqueFd fd(pidfd_open(pid));
  if (!fd)
    return false;
  // Never trust a bare pid: it must still be our executable (pid reuse, spec §16 item 9).
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  // " (deleted)": the binary was replaced (an upgrade) while the process ran; it is still ours
  // and keeps its connections until replaced on purpose.
  const std::string want = real_path(spec_.argv[0]);
  if (ec || (exe.string() != want && exe.string() != want + " (deleted)"))
    return false;
  if (!spec_.adopt_arg.empty() && !cmdline_has(pid, spec_.adopt_arg))
    return false;
  if (spec_.ready && !spec_.ready())
    return false;
  pidfd_ = std::move(fd);
  pid_ = pid;
  log::info("proxy." + spec_.name + "_adopted", {{"pid", pid}});
  return true;
}

Status SupervisedProcess::spawn_locked() {
  if (!spec_.self_recorded) {  // a self-recorded process binds its own sockets once it runs
    for (const auto& s : spec_.stale_sockets) ::unlink(s.c_str());
  }
  std::vector<std::string> args = spec_.argv;
  std::vector<std::string> env = spec_.env;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  UniqueFd log_fd(::open(spec_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd)
    return errno_error(spec_.error_code, "open " + spec_.log_file);
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  pid_t pid = ::fork();
  if (pid < 0)
    return errno_error(spec_.error_code, "fork " + spec_.name);
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. umask 077 makes its sockets 0600.
    ::umask(077);
    ::setsid();
    ::dup2(null_fd.get(), STDIN_FILENO);
    ::dup2(log_fd.get(), STDOUT_FILENO);
    ::dup2(log_fd.get(), STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pidfd_ = UniqueFd(pidfd_open(pid));
  pid_ = pid;
  if (!spec_.self_recorded)
    LOB_TRY(fs::write_file_atomic(spec_.pid_file, std::to_string(pid) + "\n", 0600));
  int64_t deadline = mono_ms() + spec_.start_timeout_ms;
  while (mono_ms() < deadline) {
    if (pidfd_exited(pidfd_.get(), 0)) {
      int status = 0;
      ::waitpid(pid, &status, WNOHANG);
      pid_ = 0;
      pidfd_.reset();
      // Another instance won the start-up race (it holds the pid file): it is the one.
      for (int i = 0; spec_.self_recorded && i < 100; ++i) {
        if (adopt_locked())
          return ok();
        ::usleep(50'000);
      }
      Error e{spec_.error_code,
              fmt::format("{} exited during start-up (status {})", spec_.name, status)};
      auto tail = fs::read_file(spec_.log_file);
      if (tail)
        e.detail = tail->substr(tail->size() > 2000 ? tail->size() - 2000 : 0);
      e.hint = "see " + spec_.log_file + (spec_.hint.empty() ? "" : "; " + spec_.hint);
      return make_error(std::move(e));
    }
    if (!spec_.ready || spec_.ready()) {
      log::info("proxy." + spec_.name + "_started", {{"pid", pid}});
      return ok();
    }
    ::usleep(50'000);
  }
  return make_error(spec_.error_code, "{} did not become ready within {} ms", spec_.name,
                    spec_.start_timeout_ms);
}

Status SupervisedProcess::ensure_running_locked() {
  if (pid_ != 0 && pidfd_ && !pidfd_exited(pidfd_.get(), 0))
    return ok();
  if (pid_ != 0) {
    ::waitpid(pid_, nullptr, WNOHANG);  // reap if it was our child
    pid_ = 0;
    pidfd_.reset();
  }
  if (adopt_locked())
    return ok();
  return spawn_locked();
}

Status SupervisedProcess::ensure_running() {
  std::lock_guard lock(mu_);
  if (pid_ != 0 && pidfd_ && !pidfd_exited(pidfd_.get(), 0) && spec_.ready && !spec_.ready()) {
    // Alive but not answering (hung): replace it.
    log::warn("proxy." + spec_.name + "_unresponsive", {{"pid", pid_}});
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    pidfd_exited(pidfd_.get(), 5000);
  }
  return ensure_running_locked();
}

int SupervisedProcess::pid() const {
  std::lock_guard lock(mu_);
  return pid_;
}

bool SupervisedProcess::healthy() const {
  {
    std::lock_guard lock(mu_);
    if (pid_ == 0 || !pidfd_ || pidfd_exited(pidfd_.get(), 0))
      return false;
  }
  return !spec_.ready || spec_.ready();
}

Status SupervisedProcess::stop() {
  stopping_ = true;
  uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof(one));
  if (supervisor_.joinable())
    supervisor_.join();
  std::lock_guard lock(mu_);
  if (pid_ == 0 || !pidfd_)
    return ok();
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGTERM, nullptr, 0);
  if (!pidfd_exited(pidfd_.get(), 5000)) {
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    pidfd_exited(pidfd_.get(), 5000);
  }
  ::waitpid(pid_, nullptr, WNOHANG);
  pid_ = 0;
  pidfd_.reset();
  ::unlink(spec_.pid_file.c_str());
  for (const auto& s : spec_.stale_sockets) ::unlink(s.c_str());
  return ok();
}

void SupervisedProcess::supervise_loop() {
  int64_t backoff_ms = 100;
  while (!stopping_) {
    int fd;
    {
      std::lock_guard lock(mu_);
      fd = pidfd_ ? pidfd_.get() : -1;
    }
    pollfd p[2] = {{wake_fd_.get(), POLLIN, 0}, {fd, POLLIN, 0}};
    int64_t started = mono_ms();
    int n = ::poll(p, fd >= 0 ? 2 : 1, fd >= 0 ? -1 : static_cast<int>(backoff_ms));
    if (stopping_)
      break;
    if (n < 0 && errno != EINTR)
      break;
    if (fd >= 0 && (p[1].revents & POLLIN) == 0)
      continue;
    log::warn("proxy." + spec_.name + "_exited", {{"restart_in_ms", backoff_ms}});
    // Sleep on the eventfd so shutdown is not delayed by the backoff.
    pollfd w{wake_fd_.get(), POLLIN, 0};
    ::poll(&w, 1, static_cast<int>(backoff_ms));
    if (stopping_)
      break;
    std::lock_guard lock(mu_);
    Status s = ensure_running_locked();
    if (!s) {
      log::error("proxy." + spec_.name + "_restart_failed", {{"error", s.error().to_string()}});
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
    } else if (mono_ms() - started > 30'000) {
      backoff_ms = 100;
    }
  }
}

}  // namespace lobster::proxy
