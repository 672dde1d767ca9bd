// TenantRuntime: the daemon's real tenant machinery — rtnetlink TAPs, iptables rules,
// cgroups, the VMM driver chosen by vmm.driver, the front door (Caddy + ingress), verified images —
// wired into one tenant::TenantService. Built once at daemon start; reconcile() then drives every
// tenant to a consistent state (unfinished spawns/evicts torn down, TAPs and rules rebuilt from
// the store, the front door started: spec §16 item 11).
//
// The front door starts lazily (first spawn or first reconcile with tenants), so a host without
// tenants never binds ports 80/443.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/paths.h"
#include "host/process/process.h"
#include "store/store.h"
#include "tenant/service.h"

namespace lobster::daemon {

class TenantRuntime {
 public:
  static Result<std::unique_ptr<TenantRuntime>> create(const Paths& paths, const Config& config,
                                                       store::Store& store);
  ~TenantRuntime();

  tenant::TenantService& service() { return *service_; }
  // Crash recovery + network and proxy reconcile. Safe to run repeatedly. Returns the tenants
  // whose TAP had to be re-created: a VMM still running holds the old device and must be
  // restarted (the watchdog does it).
  Result<std::vector<std::string>> reconcile();

  struct Parts;

 private:
  explicit TenantRuntime(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<tenant::TenantService> service_;
};

}  // namespace lobster::daemon
