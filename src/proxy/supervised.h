// SupervisedProcess: a long-lived helper process the daemon starts, watches and restarts, but
// that outlives the daemon on purpose (Caddy and the ingress: user connections survive a
// daemon restart or kill -9). It runs in its own session; a new daemon adopts the running one
// recorded in the pid file, verified by pidfd + /proc/<pid>/exe (+ an argument of its command
// line when several roles share one executable), never by process name (spec §16 item 9).
//
//   auto p = LOB_TRY(SupervisedProcess::start(spec));   // adopt or spawn, wait for ready()
//   p->pid();  p->stop();                               // stop: SIGTERM, then SIGKILL
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::proxy {

struct ProcessSpec {
  std::string name;               // "caddy", "ingress": log events and messages
  std::vector<std::string> argv;  // argv[0]: absolute path of the executable
  std::vector<std::string> env;
  std::string pid_file;
  // The process locks and writes pid_file itself (one instance per root, even when a daemon
  // dies between fork and recording the pid): the supervisor never writes it, and a child
  // that exits during start-up because another instance runs leads to adopting that one.
  bool self_recorded = false;
  std::string log_file;                    // stdout + stderr (0600, appended)
  std::string adopt_arg;                   // cmdline must contain it ("" = executable only)
  std::vector<std::string> stale_sockets;  // unlinked before a fresh start
  std::function<bool()> ready;             // true once the process serves
  int start_timeout_ms = 15'000;
  ErrorCode error_code = ErrorCode::kInternal;  // for start failures
  std::string hint;
  bool supervise = true;  // restart with backoff when it exits
};

class SupervisedProcess {
 public:
  // Adopts the recorded process if it is ours and ready, else spawns one and waits for ready().
  // Errors: spec.error_code (exec failed, exited during start-up with its log tail, timeout).
  static Result<std::unique_ptr<SupervisedProcess>> start(ProcessSpec spec);
  // Terminates the process `spec` recorded in its pid file, if it is really ours (uninit).
  // Nothing recorded or not ours: removes the stale pid file and sockets only.
  static Status stop_recorded(ProcessSpec spec);
  // Stops supervising; the process keeps running.
  ~SupervisedProcess();
  SupervisedProcess(const SupervisedProcess&) = delete;
  SupervisedProcess& operator=(const SupervisedProcess&) = delete;

  // Terminates the process (SIGTERM, SIGKILL after 5 s) and removes its pid file and sockets.
  Status stop();
  // Pid of the process now (0 if none).
  int pid() const;
  // True if the process exists and ready() answers.
  bool healthy() const;
  // True when start() found the process already running (left by a previous daemon).
  bool adopted() const { return adopted_; }
  // Restarts the process unless it runs and answers ready() (repairs; a hung one is killed).
  // Same errors as start().
  Status ensure_running();

 private:
  explicit SupervisedProcess(ProcessSpec spec);
  Status ensure_running_locked();
  Status spawn_locked();
  bool adopt_locked();
  void supervise_loop();

  ProcessSpec spec_;
  mutable std::mutex mu_;
  UniqueFd pidfd_;
  int pid_ = 0;
  UniqueFd wake_fd_;  // eventfd: wakes the supervisor for shutdown
  std::atomic<bool> stopping_{false};
  bool adopted_ = false;  // set by start()
  std::thread supervisor_;
};

}  // namespace lobster::proxy
