#include "health/state_machine.h"

namespace lobster::health {

std::string_view state_name(HealthState s) {
  switch (s) {
    case HealthState::kUnknown:
      return "UNKNOWN";
    case HealthState::kHealthy:
      return "HEALTHY";
    case HealthState::kDegraded:
      return "DEGRADED";
    case HealthState::kFailed:
      return "FAILED";
    case HealthState::kRecovering:
      return "RECOVERING";
    case HealthState::kSuspended:
      return "SUSPENDED";
  }
  return "UNKNOWN";
}

Transition StateMachine::observe(const std::string& tenant, const std::vector<CheckResult>& results,
                                 int64_t now_ms) {
  TenantHealth& h = tenants_[tenant];
  h.last_check_ms = now_ms;
  h.last_results = results;
  Transition tr{h.state, h.state, false};
  const bool healthy = all_ok(results);
  const bool exhausted = h.repair_attempts >= max_repair_attempts_;
  switch (h.state) {
    case HealthState::kUnknown:
    case HealthState::kHealthy:
    case HealthState::kSuspended:
    case HealthState::kFailed:
      if (healthy) {
        tr.to = HealthState::kHealthy;
        h.repair_attempts = 0;
      } else if (h.state == HealthState::kFailed) {
        tr.to = HealthState::kFailed;
      } else {
        tr.to = HealthState::kDegraded;
        h.repair_attempts = 0;
        tr.repair = true;
      }
      break;
    case HealthState::kDegraded:
    case HealthState::kRecovering:
      if (healthy) {
        tr.to =
            h.state == HealthState::kDegraded ? HealthState::kRecovering : HealthState::kHealthy;
        if (tr.to == HealthState::kHealthy)
          h.repair_attempts = 0;
      } else if (exhausted) {
        tr.to = HealthState::kFailed;
      } else {
        tr.to = HealthState::kDegraded;
        tr.repair = true;
      }
      break;
  }
  h.state = tr.to;
  return tr;
}

Transition StateMachine::mark_suspended(const std::string& tenant) {
  TenantHealth& h = tenants_[tenant];
  Transition tr{h.state, HealthState::kSuspended, false};
  h.state = HealthState::kSuspended;
  return tr;
}

void StateMachine::record_repair(const std::string& tenant, int64_t now_ms) {
  TenantHealth& h = tenants_[tenant];
  h.repair_attempts += 1;
  h.last_repair_ms = now_ms;
}

bool StateMachine::in_cooldown(const std::string& tenant, int64_t now_ms,
                               int64_t cooldown_ms) const {
  auto it = tenants_.find(tenant);
  return it != tenants_.end() && it->second.last_repair_ms &&
         now_ms - *it->second.last_repair_ms < cooldown_ms;
}

void StateMachine::forget(const std::string& tenant) { tenants_.erase(tenant); }

const TenantHealth* StateMachine::get(const std::string& tenant) const {
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : &it->second;
}

std::map<std::string, HealthState> StateMachine::states() const {
  std::map<std::string, HealthState> out;
  for (const auto& [name, h] : tenants_) out[name] = h.state;
  return out;
}

}  // namespace lobster::health
