#include "guest/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace lobster::guest {

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "code " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return "signal " + std::to_string(WTERMSIG(wait_status));
  }
  return "status " + std::to_string(wait_status);
}

Service::Service(EventLoop& loop, ServiceSpec spec, std::function<void(const std::string&)> note)
    : loop_(loop),
      spec_(std::move(spec)),
      note_(std::move(note)),
      log_(spec_.log_path, spec_.log_max_bytes),
      backoff_(spec_.backoff) {}

Service::~Service() {
  if (restart_timer_ != 0) {
    loop_.cancel_timer(restart_timer_);
  }
  close_pipe();
}

Status Service::start() {
  enabled_ = true;
  if (running()) {
    return ok();
  }
  if (restart_timer_ != 0) {
    loop_.cancel_timer(restart_timer_);
    restart_timer_ = 0;
  }
  return spawn();
}

void Service::stop(int sig) {
  enabled_ = false;
  if (restart_timer_ != 0) {
    loop_.cancel_timer(restart_timer_);
    restart_timer_ = 0;
  }
  if (running()) {
    ::kill(-pid_, sig);  // the child leads its own session/process group
    ::kill(pid_, sig);
  }
}

Status Service::spawn() {
  if (spec_.argv.empty()) {
    return make_error(ErrorCode::kExecFailed, "service {}: empty argv", spec_.name);
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return errno_error(ErrorCode::kExecFailed, "service " + spec_.name + ": pipe");
  }
  UniqueFd rd(fds[0]);
  UniqueFd wr(fds[1]);

  std::vector<char*> argv;
  for (auto& a : spec_.argv) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec_.env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  posix_spawn_file_actions_addchdir_np(&fa, spec_.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // lobster-init blocks the signals it reads through signalfd; children start with a clean
  // mask and default dispositions, in their own session (so stop() can signal the group).
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, static_cast<short>(POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID));
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  wr.reset();
  started_ms_ = EventLoop::now_ms();
  if (rc != 0) {
    std::string msg =
        "service " + spec_.name + ": spawn " + spec_.argv[0] + ": " + std::strerror(rc);
    note_(msg);
    // Treat it like an immediate exit so the backoff applies.
    int64_t delay = backoff_.on_exit(started_ms_, started_ms_);
    restart_timer_ = loop_.add_timer(delay, [this] {
      restart_timer_ = 0;
      if (enabled_ && !running()) {
        (void)spawn();
      }
    });
    return make_error(ErrorCode::kExecFailed, "{}", msg);
  }
  pid_ = pid;
  close_pipe();
  out_ = std::move(rd);
  ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
  int fd = out_.get();
  if (!loop_.add(fd, EPOLLIN, [this](uint32_t ev) { on_output(ev); })) {
    close_pipe();
  }
  note_("service " + spec_.name + " started (pid " + std::to_string(pid_) + ")");
  return ok();
}

void Service::on_output(uint32_t /*events*/) {
  std::array<char, 16384> buf{};
  for (int i = 0; i < 16; ++i) {  // bounded so a chatty child cannot starve the loop
    ssize_t n = ::read(out_.get(), buf.data(), buf.size());
    if (n > 0) {
      log_.append(std::string_view(buf.data(), static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    close_pipe();  // EOF: every writer (child and its descendants) is gone
    return;
  }
}

void Service::close_pipe() {
  if (out_) {
    loop_.remove(out_.get());
    out_.reset();
  }
}

bool Service::handle_exit(pid_t pid, int wait_status) {
  if (pid != pid_ || pid_ <= 0) {
    return false;
  }
  pid_ = -1;
  int64_t now = EventLoop::now_ms();
  if (!enabled_) {
    note_("service " + spec_.name + " stopped (" + describe_wait_status(wait_status) + ")");
    return true;
  }
  int64_t delay = backoff_.on_exit(started_ms_, now);
  note_("service " + spec_.name + " exited (" + describe_wait_status(wait_status) +
        "); restart in " + std::to_string(delay) + " ms");
  restart_timer_ = loop_.add_timer(delay, [this] {
    restart_timer_ = 0;
    if (enabled_ && !running()) {
      ++restarts_;
      (void)spawn();
    }
  });
  return true;
}

}  // namespace lobster::guest
