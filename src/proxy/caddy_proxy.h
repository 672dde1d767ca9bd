// CaddyProxy: the real Proxy. Runs and supervises lobsterd's own Caddy (`caddy run --config
// <file>`), restarting it with backoff if it dies; the config file always holds the full route
// set, so a restarted Caddy serves every route again at once. Every change rewrites that file
// (0600, atomic) and loads it through the admin API.
//
// Caddy outlives the daemon on purpose (tenants stay reachable while lobsterd restarts); a new
// CaddyProxy adopts a running Caddy recorded in the pid file (verified by /proc/<pid>/exe),
// never by process name. stop_caddy() ends it (uninit, tests).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "core/unique_fd.h"
#include "proxy/caddy_admin.h"
#include "proxy/proxy.h"

namespace lobster::proxy {

struct CaddyLaunch {
  std::string caddy_binary = "/usr/bin/caddy";
  std::string config_file;  // written by us, 0600
  std::string pid_file;
  std::string home_dir;   // HOME / XDG dirs for Caddy (0700)
  std::string log_file;   // Caddy's stdout+stderr
  bool supervise = true;  // restart Caddy when it exits
};

class CaddyProxy final : public Proxy {
 public:
  static Result<std::unique_ptr<CaddyProxy>> start(ProxyOptions options, CaddyLaunch launch,
                                                   std::vector<TenantRoute> routes);
  ~CaddyProxy() override;
  CaddyProxy(const CaddyProxy&) = delete;
  CaddyProxy& operator=(const CaddyProxy&) = delete;

  Status add_tenant(const TenantRoute& route) override;
  Status remove_tenant(const std::string& tenant) override;
  Status sync(const std::vector<TenantRoute>& routes) override;
  Result<std::vector<std::string>> live_route_ids() override;

  // Stops supervision and terminates Caddy (SIGTERM, then SIGKILL after 5 s) by pidfd.
  Status stop_caddy();
  // Pid of the Caddy currently supervised (0 if none).
  int caddy_pid() const;
  // Path of the internal CA root certificate clients can trust (internal-CA domains only).
  std::string ca_root_path() const;

 private:
  CaddyProxy(ProxyOptions options, CaddyLaunch launch, std::vector<TenantRoute> routes);
  Status apply_locked();           // write config file + /load
  Status ensure_running_locked();  // adopt or spawn, wait for the admin socket
  Status spawn_locked();
  bool adopt_locked();
  void supervise_loop();

  ProxyOptions options_;
  CaddyLaunch launch_;
  CaddyAdmin admin_;
  mutable std::mutex mu_;
  std::vector<TenantRoute> routes_;
  UniqueFd pidfd_;
  int pid_ = 0;
  UniqueFd wake_fd_;  // eventfd: wakes the supervisor for shutdown
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace lobster::proxy
