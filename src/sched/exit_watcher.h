// ExitWatcher: notices a VMM's death the moment it happens (issue 21): one thread polls a pidfd
// per watched VMM. When one becomes readable the process is reaped if the daemon is its parent
// (a VMM started by this daemon; one adopted from a previous daemon is reaped by its own
// parent), its exit status and its cgroup's OOM-kill count are read, and `on_exit` runs on the
// watcher thread (it should only hand the event on, e.g. to the LoopHost).
//
//   ExitWatcher w([&](VmExit e) { host.once("exit:" + e.tenant, now, [=] { handle(e); }); },
//                 [&](const std::string& tenant) { return oom_kills_of(tenant); });
//   w.start();
//   w.sync({{"alice", {4242, 123456}}});   // from the store: every active tenant's VMM
//
// Identity: a pid is watched only if its /proc start time equals the stored one, so a recycled
// pid is never mistaken for the tenant's VMM (spec §16 item 9).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/unique_fd.h"
#include "store/types.h"

namespace lobster::sched {

struct VmExit {
  std::string tenant;
  store::VmProcess vm;
  bool reaped = false;      // we were its parent: exit_code / signal are known
  int exit_code = -1;       // normal exit status
  int signal = 0;           // terminating signal
  int64_t oom_kills = 0;    // oom_kill of the VMM's memory cgroup
  bool found_gone = false;  // already gone (or recycled) when it was to be watched
  // "OOM-killed by its memory cgroup (memory.events oom_kill=1)", "killed by signal 9
  // (SIGKILL)", "exited with status 1", or "exited (not our child: status unknown)".
  std::string cause() const;
  bool oom() const { return oom_kills > 0; }
};

class ExitWatcher {
 public:
  using OnExit = std::function<void(VmExit)>;
  using OomKills = std::function<int64_t(const std::string& tenant)>;

  ExitWatcher(OnExit on_exit, OomKills oom_kills, std::string proc_root = "/proc");
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Watches exactly `want` (tenant -> VMM) from now on: new entries get a pidfd (one whose pid
  // is gone or names another process is reported as exited at once, since the stored VMM is
  // not running), entries no longer wanted or with a new identity are dropped. Each VMM's exit
  // is reported once.
  void sync(const std::map<std::string, store::VmProcess>& want);
  // Starts the poll thread. Idempotent.
  void start();
  // Stops it (no callbacks after this returns). Idempotent.
  void stop();
  // Number of VMMs watched.
  size_t watched() const;

 private:
  struct Watch {
    store::VmProcess vm;
    UniqueFd pidfd;
  };
  void loop();
  VmExit collect(const std::string& tenant, Watch& w);
  void wake();

  OnExit on_exit_;
  OomKills oom_kills_;
  std::string proc_root_;
  mutable std::mutex mu_;
  std::map<std::string, Watch> watches_;
  // Exits already reported, so a VMM the store still records until its repair is not
  // reported again by every sync().
  std::map<std::string, store::VmProcess> reported_;
  UniqueFd wake_fd_;  // eventfd: sync() and stop() wake the poll
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lobster::sched
