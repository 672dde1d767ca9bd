// FrontDoor: the daemon's real proxy::Proxy, Caddy (static config) plus the ingress process
// (`<lobsterd> ingress`), both SupervisedProcesses that outlive the daemon. Started lazily
// (first spawn, or reconcile with tenants), so a host without tenants never binds ports
// 80/443; a running pair left by a previous daemon is adopted.
#pragma once

#include <memory>
#include <mutex>

#include "core/config.h"
#include "core/paths.h"
#include "proxy/caddy_proxy.h"
#include "proxy/proxy.h"

namespace lobster::daemon {

// Caddy's options and launch settings for this root and config (one place for both).
proxy::ProxyOptions caddy_options(const Paths& paths, const Config& cfg);
proxy::CaddyLaunch caddy_launch(const Paths& paths, const Config& cfg);

// Terminates the Caddy and the ingress this root's pid files record (uninit, after the daemon
// stopped): they outlive the daemon on purpose, so nothing else ends them.
Status stop_front_door(const Paths& paths, const Config& cfg);

class FrontDoor final : public proxy::Proxy {
 public:
  FrontDoor(const Paths& paths, const Config& cfg);
  Status ensure_running() override;
  Status check() override;
  Result<ingress::ActivityReport> activity() override;

 private:
  // Started by us, or left running by a previous daemon (both outlive it).
  bool started_locked() const;
  Paths paths_;
  Config config_;
  std::mutex mu_;
  std::unique_ptr<proxy::SupervisedProcess> ingress_;
  std::unique_ptr<proxy::CaddyProxy> caddy_;
};

}  // namespace lobster::daemon
