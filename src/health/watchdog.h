// Watchdog (spec §8.4, DESIGN.md "Autonomy"): one round over every tenant per tick. The
// daemon's loop host (src/sched) calls tick() every watchdog.intervalMs, never overlapping.
//
// Per tenant and tick: suspended -> SUSPENDED (checks skipped); any status but active -> left
// alone (an operation owns it); last repair younger than repairCooldownMs -> skipped; else,
// under the tenant's operation lock taken WITHOUT waiting (busy -> skipped this tick), the six
// checks, the state machine (state_machine.h: maxRepairAttempts, FAILED until molt or a fix),
// and the repairs in dependency order (repairs.h: rules/TAP before the VM). Every state change
// and repair is an event (events.h): one daemon log line and one audit row.
//
//   Watchdog wd(service);
//   host.every("watchdog", [&] { return cfg.watchdog.interval_ms; }, [&] { wd.tick(); });
//   wd.vm_exited("alice", "killed by SIGKILL");  // a VMM death seen by its pidfd: DEGRADED now
//   wd.reset("alice");                            // after molt: FAILED ends
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "health/state_machine.h"
#include "tenant/service.h"

namespace lobster::health {

inline constexpr std::string_view kWatchdogCheckLabel = "watchdog.check";
inline constexpr std::string_view kWatchdogRepairLabel = "watchdog.repair";

class Watchdog {
 public:
  explicit Watchdog(tenant::TenantService& service);

  // One round over every tenant in the store (see above). Returns the states after it.
  std::map<std::string, HealthState> tick();
  // The tenant's VMM died unexpectedly (seen by the daemon, not by a check): the tenant is
  // DEGRADED at once with `message` as its vm.process failure (FAILED stays FAILED). The caller
  // then pokes the tick, which repairs it.
  void vm_exited(const std::string& tenant, const std::string& message);
  // The tenant's TAP was re-created (daemon-start reconcile) while its VMM may still hold the
  // old device: its next round counts net.tap as failed, so the VM is restarted (§16 item 12).
  void tap_recreated(const std::string& tenant);
  // Forgets the tenant's state (molt ran, or an operator acted): the next tick starts over
  // from UNKNOWN with zero attempts, so a FAILED tenant is watched and repaired again.
  void reset(const std::string& tenant);

  std::optional<TenantHealth> health(const std::string& tenant) const;
  std::map<std::string, HealthState> states() const;

 private:
  void round(const std::string& name);
  void note(const std::string& name, const Transition& tr, const std::vector<CheckResult>& r);

  tenant::TenantService& service_;
  mutable std::mutex mu_;
  StateMachine sm_;
  std::set<std::string> stale_tap_;
};

}  // namespace lobster::health
