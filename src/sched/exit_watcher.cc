#include "sched/exit_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "core/fs.h"
#include "core/log.h"

namespace lobster::sched {
namespace {

#ifndef P_PIDFD
constexpr int P_PIDFD = 3;  // Kernel ABI: idtype for waitid(2) on a pidfd (Linux >= 5.4).
#endif

// Field 22 (start time) of /proc/<pid>/stat; nullopt if the process is gone. Works for zombies,
// whose /proc/<pid>/exe can no longer be read.
std::optional<int64_t> start_time_of(const std::string& proc_root, int64_t pid) {
  auto stat = fs::read_file(proc_root + "/" + std::to_string(pid) + "/stat");
  if (!stat)
    return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  // After "pid (comm) " come fields 3, 4, ...: field 22 is the 20th.
  size_t pos = close + 1;
  for (int field = 3; field <= 22; ++field) {
    while (pos < stat->size() && (*stat)[pos] == ' ') ++pos;
    size_t end = stat->find(' ', pos);
    if (end == std::string::npos)
      end = stat->size();
    if (field == 22) {
      int64_t v = 0;
      for (size_t i = pos; i < end; ++i) {
        char c = (*stat)[i];
        if (c < '0' || c > '9')
          return std::nullopt;
        v = v * 10 + (c - '0');
      }
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

}  // namespace

std::string VmExit::cause() const {
  if (oom_kills > 0) {
    return fmt::format(
        "OOM-killed by its memory cgroup (memory.events oom_kill={}): give the "
        "tenant more memory",
        oom_kills);
  }
  if (found_gone)
    return "not running when the daemon looked (host reboot, or it died while no daemon ran)";
  if (!reaped)
    return "exited (not the daemon's child: exit status unknown)";
  if (signal != 0) {
    const char* name = ::sigabbrev_np(signal);
    return fmt::format("killed by signal {} (SIG{})", signal, name != nullptr ? name : "?");
  }
  return fmt::format("exited with status {}", exit_code);
}

ExitWatcher::ExitWatcher(OnExit on_exit, OomKills oom_kills, std::string proc_root)
    : on_exit_(std::move(on_exit)),
      oom_kills_(std::move(oom_kills)),
      proc_root_(std::move(proc_root)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ExitWatcher::~ExitWatcher() { stop(); }

void ExitWatcher::wake() {
  uint64_t one = 1;
  if (wake_fd_.get() >= 0)
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

size_t ExitWatcher::watched() const {
  std::lock_guard lock(mu_);
  return watches_.size();
}

void ExitWatcher::sync(const std::map<std::string, store::VmProcess>& want) {
  std::vector<VmExit> gone;
  {
    std::lock_guard lock(mu_);
    for (auto it = watches_.begin(); it != watches_.end();) {
      auto w = want.find(it->first);
      if (w == want.end() || !(w->second == it->second.vm)) {
        it = watches_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = reported_.begin(); it != reported_.end();) {
      auto w = want.find(it->first);
      it = (w == want.end() || !(w->second == it->second)) ? reported_.erase(it) : std::next(it);
    }
    for (const auto& [tenant, vm] : want) {
      if (watches_.contains(tenant) || reported_.contains(tenant))
        continue;
      long fd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(vm.pid), 0);
      UniqueFd pidfd(fd < 0 ? -1 : static_cast<int>(fd));
      // The pidfd pins the pid, so the start time read after it names the same process.
      auto started = start_time_of(proc_root_, vm.pid);
      if (pidfd.get() < 0 || !started || *started != vm.start_time) {
        VmExit e;
        e.tenant = tenant;
        e.vm = vm;
        e.found_gone = true;
        reported_[tenant] = vm;
        gone.push_back(std::move(e));
        continue;
      }
      watches_[tenant] = Watch{vm, std::move(pidfd)};
    }
  }
  wake();
  for (auto& e : gone) {
    if (oom_kills_)
      e.oom_kills = oom_kills_(e.tenant);
    on_exit_(std::move(e));
  }
}

VmExit ExitWatcher::collect(const std::string& tenant, Watch& w) {
  VmExit e;
  e.tenant = tenant;
  e.vm = w.vm;
  siginfo_t info{};
  // Reaps it if we are its parent, so no zombie stays behind (issue 21); ECHILD otherwise.
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(w.pidfd.get()), &info,
               WEXITED | WNOHANG) == 0 &&
      info.si_pid != 0) {
    e.reaped = true;
    if (info.si_code == CLD_EXITED) {
      e.exit_code = info.si_status;
    } else {
      e.signal = info.si_status;
    }
  }
  if (oom_kills_)
    e.oom_kills = oom_kills_(tenant);
  return e;
}

void ExitWatcher::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable())
    return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void ExitWatcher::stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable())
      return;
    stopping_ = true;
  }
  wake();
  thread_.join();
}

void ExitWatcher::loop() {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu_);
      if (stopping_)
        return;
      fds.push_back({wake_fd_.get(), POLLIN, 0});
      for (const auto& [tenant, w] : watches_) {
        fds.push_back({w.pidfd.get(), POLLIN, 0});
        names.push_back(tenant);
      }
    }
    int n = ::poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      log::error("exit_watcher.poll_failed", {{"error", std::strerror(errno)}});
      return;
    }
    if (n <= 0)
      continue;
    if (fds[0].revents != 0) {
      uint64_t drained = 0;
      (void)!::read(wake_fd_.get(), &drained, sizeof(drained));
    }
    std::vector<VmExit> exits;
    {
      std::lock_guard lock(mu_);
      if (stopping_)
        return;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0)
          continue;
        auto it = watches_.find(names[i - 1]);
        // sync() may have replaced the watch meanwhile: only the polled pidfd counts.
        if (it == watches_.end() || it->second.pidfd.get() != fds[i].fd)
          continue;
        // A pidfd closed and reused by sync() during the poll may have reported POLLNVAL for
        // another watch: only a pidfd readable now means its process exited.
        pollfd now{it->second.pidfd.get(), POLLIN, 0};
        if (::poll(&now, 1, 0) <= 0 || (now.revents & POLLIN) == 0)
          continue;
        exits.push_back(collect(it->first, it->second));
        reported_[it->first] = it->second.vm;
        watches_.erase(it);
      }
    }
    for (auto& e : exits) on_exit_(std::move(e));
  }
}

}  // namespace lobster::sched
