// Per-tenant health state machine (spec §8.3), pure and in memory: the watchdog loop feeds it
// one round of check results per tenant and asks whether to repair. Time is a parameter, so
// tests need no clock.
//
//   StateMachine sm(config.watchdog.max_repair_attempts);
//   Transition tr = sm.observe("alice", checks, now_ms);
//   if (tr.repair) { run_repairs(...); sm.record_repair("alice", now_ms); }
//
// Transitions (allOk = every check ok):
//   from        allOk                  not allOk
//   UNKNOWN     HEALTHY                DEGRADED, repair
//   HEALTHY     HEALTHY                DEGRADED (attempts = 0), repair
//   DEGRADED    RECOVERING             attempts >= max ? FAILED : DEGRADED, repair
//   RECOVERING  HEALTHY (attempts = 0) attempts >= max ? FAILED : DEGRADED, repair
//   FAILED      HEALTHY (attempts = 0) FAILED (no repair: only a manual fix helps)
//   SUSPENDED   HEALTHY (attempts = 0) DEGRADED (attempts = 0), repair
// Unlike the original, RECOVERING -> DEGRADED keeps the attempt count, and attempts reset only
// on reaching HEALTHY, so a flapping tenant ends FAILED instead of being repaired forever
// (spec §16 item 10). SUSPENDED is entered through mark_suspended(), not through observe().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/checks.h"

namespace lobster::health {

enum class HealthState { kUnknown, kHealthy, kDegraded, kFailed, kRecovering, kSuspended };

// "UNKNOWN", "HEALTHY", "DEGRADED", "FAILED", "RECOVERING", "SUSPENDED".
std::string_view state_name(HealthState s);

struct TenantHealth {
  HealthState state = HealthState::kUnknown;
  std::optional<int64_t> last_check_ms;
  std::vector<CheckResult> last_results;
  int64_t repair_attempts = 0;
  std::optional<int64_t> last_repair_ms;
};

struct Transition {
  HealthState from = HealthState::kUnknown;
  HealthState to = HealthState::kUnknown;
  bool repair = false;  // the caller should run the repairs for the failed checks now
  bool changed() const { return from != to; }
};

class StateMachine {
 public:
  explicit StateMachine(int64_t max_repair_attempts = 3)
      : max_repair_attempts_(max_repair_attempts) {}

  // Applies one round of checks for `tenant` (unknown tenants start in UNKNOWN).
  Transition observe(const std::string& tenant, const std::vector<CheckResult>& results,
                     int64_t now_ms);
  // The store says the tenant is suspended (its checks are skipped).
  Transition mark_suspended(const std::string& tenant);
  // A repair round ran: attempts + 1, last repair time = now.
  void record_repair(const std::string& tenant, int64_t now_ms);
  // True while the last repair is less than `cooldown_ms` old (the loop skips the tenant).
  bool in_cooldown(const std::string& tenant, int64_t now_ms, int64_t cooldown_ms) const;
  // watchdog.maxRepairAttempts changed while running.
  void set_max_repair_attempts(int64_t n) { max_repair_attempts_ = n; }
  // Drops a tenant that no longer exists.
  void forget(const std::string& tenant);

  // nullptr if the tenant was never seen.
  const TenantHealth* get(const std::string& tenant) const;
  std::map<std::string, HealthState> states() const;

 private:
  int64_t max_repair_attempts_;
  std::map<std::string, TenantHealth> tenants_;
};

}  // namespace lobster::health
