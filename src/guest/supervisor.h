// Service: one supervised child of lobster-init (gateway, dropbear). Output (stdout+stderr)
// comes through a pipe that lobster-init drains into a RotatingLog, so logs stay under their
// cap whatever the child writes. Exits are restarted with RestartBackoff while enabled.
// Host-buildable: tests supervise /bin/sh children.
//
//   Service gw(loop, {.name = "gateway", .argv = {...}, .log_path = ".../gateway.log"}, note);
//   LOB_TRY(gw.start());
//   ... on SIGCHLD: for each reaped (pid, status): gw.handle_exit(pid, status);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "guest/backoff.h"
#include "guest/event_loop.h"
#include "guest/log_file.h"

namespace lobster::guest {

struct ServiceSpec {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V", the complete environment
  std::string cwd = "/";
  std::string log_path;
  size_t log_max_bytes = 1 << 20;
  BackoffPolicy backoff;
};

class Service {
 public:
  // `note` receives one-line supervisor events ("gateway exited (code 1); restart in 400 ms").
  Service(EventLoop& loop, ServiceSpec spec, std::function<void(const std::string&)> note);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Starts the child now if it is not running (cancelling a pending restart) and enables
  // restarts. kExecFailed if it cannot be spawned (a restart is still scheduled).
  Status start();
  // Disables restarts and sends `sig` to the child's process group.
  void stop(int sig);
  // Replaces the environment used for the next start.
  void set_env(std::vector<std::string> env) { spec_.env = std::move(env); }

  // Called for every reaped child; returns true if `pid` was this service's.
  bool handle_exit(pid_t pid, int wait_status);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int restarts() const { return restarts_; }
  const std::string& log_path() const { return log_.path(); }
  const std::string& name() const { return spec_.name; }

 private:
  Status spawn();
  void on_output(uint32_t events);
  void close_pipe();

  EventLoop& loop_;
  ServiceSpec spec_;
  std::function<void(const std::string&)> note_;
  RotatingLog log_;
  RestartBackoff backoff_;
  pid_t pid_ = -1;
  int64_t started_ms_ = 0;
  bool enabled_ = false;
  int restarts_ = 0;
  EventLoop::TimerId restart_timer_ = 0;
  UniqueFd out_;
};

// Describes a wait status: "code 1", "signal 9".
std::string describe_wait_status(int wait_status);

}  // namespace lobster::guest
