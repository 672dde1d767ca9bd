// CaddyProxy: lobsterd's own Caddy, run and supervised as a SupervisedProcess (`caddy run
// --config <file>`), restarted with backoff if it dies. Its config is static (caddy_config.h):
// start() writes the file only when its content changed (domain, ports or TLS settings), and
// then loads it into an adopted Caddy; tenant changes never touch it.
//
// Caddy outlives the daemon on purpose (tenants stay reachable while lobsterd restarts); a new
// CaddyProxy adopts the running Caddy recorded in the pid file. stop_caddy() ends it.
#pragma once

#include <memory>

#include "proxy/caddy_admin.h"
#include "proxy/caddy_config.h"
#include "proxy/supervised.h"

namespace lobster::proxy {

struct CaddyLaunch {
  std::string caddy_binary = "/usr/bin/caddy";
  std::string config_file;  // written by us, 0600
  std::string pid_file;
  std::string home_dir;   // HOME / XDG dirs for Caddy (0700)
  std::string log_file;   // Caddy's stdout+stderr
  bool supervise = true;  // restart Caddy when it exits
};

// Writes base_config(options) to `file` (0600, atomic) unless it already holds exactly that
// (the daemon writes it at start; Caddy reads it whenever it starts).
// Returns true when the file changed. Errors: kIoFailed.
Result<bool> write_caddy_config(const ProxyOptions& options, const std::string& file);

class CaddyProxy {
 public:
  // Errors: kCaddyApiError (Caddy cannot start or refuses the config), kIoFailed.
  static Result<std::unique_ptr<CaddyProxy>> start(ProxyOptions options, CaddyLaunch launch);

  // Terminates the Caddy recorded in launch.pid_file if it is ours (uninit; no daemon needed).
  static Status stop_recorded(const ProxyOptions& options, const CaddyLaunch& launch);
  // Stops supervision and terminates Caddy (SIGTERM, then SIGKILL after 5 s) by pidfd.
  Status stop_caddy();
  // Pid of the Caddy currently supervised (0 if none).
  int caddy_pid() const;
  // Running and its admin socket answers.
  bool healthy() const;
  // Restarts Caddy unless it runs (repairs). Errors: kCaddyApiError.
  Status ensure_running();
  // Path of the internal CA root certificate clients can trust (internal-CA domains only).
  std::string ca_root_path() const;

 private:
  CaddyProxy(ProxyOptions options, CaddyLaunch launch);
  ProxyOptions options_;
  CaddyLaunch launch_;
  std::unique_ptr<CaddyAdmin> admin_;
  std::unique_ptr<SupervisedProcess> process_;
};

}  // namespace lobster::proxy
