#include "health/watchdog.h"

#include <set>

#include "health/events.h"
#include "health/repairs.h"

namespace lobster::health {
namespace {

nlohmann::json failed_json(const std::vector<CheckResult>& results) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : results) {
    if (!r.ok)
      j[r.check] = r.message;
  }
  return j;
}

}  // namespace

Watchdog::Watchdog(tenant::TenantService& service)
    : service_(service), sm_(service.env().config.watchdog.max_repair_attempts) {}

void Watchdog::note(const std::string& name, const Transition& tr,
                    const std::vector<CheckResult>& results) {
  if (!tr.changed())
    return;
  nlohmann::json fields = {{"from", state_name(tr.from)}, {"to", state_name(tr.to)}};
  if (!all_ok(results) && tr.to != HealthState::kSuspended)
    fields["failed"] = failed_json(results);
  log::Level level = log::Level::kInfo;
  if (tr.to == HealthState::kDegraded)
    level = log::Level::kWarn;
  if (tr.to == HealthState::kFailed) {
    level = log::Level::kError;
    fields["hint"] = "repairs gave up after watchdog.maxRepairAttempts rounds; `lobsterd molt " +
                     name + "` tries again, `lobsterd evict " + name + "` removes it";
  }
  record_event(*service_.env().store, level, "watchdog.state-change", name, fields);
}

void Watchdog::round(const std::string& name) {
  tenant::TenantEnv& env = service_.env();
  auto t = env.store->get_tenant(name);
  if (!t || t->status != store::TenantStatus::kActive)
    return;  // changed since the tick listed it
  std::vector<CheckResult> results = run_checks(env, *t);
  const int64_t now = env.clock->now_ms();
  Transition tr;
  {
    std::lock_guard lock(mu_);
    if (stale_tap_.erase(name) > 0) {
      for (auto& r : results) {
        if (r.check == kNetTap)
          r = {std::string(kNetTap), false, "TAP was re-created under the running VM"};
      }
    }
    tr = sm_.observe(name, results, now);
  }
  note(name, tr, results);
  if (!tr.repair)
    return;
  std::vector<RepairKind> plan = plan_repairs(results);
  nlohmann::json planned = nlohmann::json::array();
  for (RepairKind k : plan) planned.push_back(repair_name(k));
  record_event(*env.store, log::Level::kWarn, "watchdog.repair-start", name,
               {{"failed", failed_json(results)}, {"repairs", planned}});
  service_.set_in_flight(name, kWatchdogRepairLabel);
  std::vector<RepairResult> done = run_repairs(env, *t, plan, store::Actor::daemon(), nullptr);
  {
    std::lock_guard lock(mu_);
    sm_.record_repair(name, env.clock->now_ms());
  }
  for (const auto& r : done) {
    record_event(*env.store, r.fixed ? log::Level::kInfo : log::Level::kWarn, "watchdog.repair",
                 name, {{"repair", r.repair}, {"fixed", r.fixed}, {"actions", r.actions}}, r.code);
  }
}

std::map<std::string, HealthState> Watchdog::tick() {
  tenant::TenantEnv& env = service_.env();
  const Config::Watchdog& cfg = env.config.watchdog;
  auto tenants = env.store->list_tenants();
  if (!tenants) {
    log::error("watchdog.list_failed", {{"error", tenants.error().message}});
    return states();
  }
  std::set<std::string> present;
  for (const auto& t : *tenants) present.insert(t.name);
  {
    std::lock_guard lock(mu_);
    sm_.set_max_repair_attempts(cfg.max_repair_attempts);
    for (const auto& [name, state] : sm_.states()) {
      if (!present.contains(name))
        sm_.forget(name);
    }
  }
  for (const auto& t : *tenants) {
    if (t.status == store::TenantStatus::kSuspended) {
      Transition tr;
      {
        std::lock_guard lock(mu_);
        tr = sm_.mark_suspended(t.name);
      }
      note(t.name, tr, {});
      continue;
    }
    if (t.status != store::TenantStatus::kActive)
      continue;  // an operation owns it (or recovery marked it failed: molt's business)
    {
      std::lock_guard lock(mu_);
      if (sm_.in_cooldown(t.name, env.clock->now_ms(), cfg.repair_cooldown_ms))
        continue;
    }
    auto ran = service_.try_exclusive(t.name, kWatchdogCheckLabel, [&](const tenant::Progress&) {
      round(t.name);
      return true;
    });
    if (!ran) {
      log::debug("watchdog.skipped", {{"tenant", t.name},
                                      {"reason", "operation in flight"},
                                      {"operation", service_.in_flight(t.name)}});
    }
  }
  return states();
}

void Watchdog::vm_exited(const std::string& tenant, const std::string& message) {
  std::vector<CheckResult> results;
  Transition tr;
  {
    std::lock_guard lock(mu_);
    const TenantHealth* h = sm_.get(tenant);
    if (h != nullptr && !h->last_results.empty()) {
      results = h->last_results;
    } else {
      for (std::string_view c : kCheckOrder)
        results.push_back({std::string(c), true, "not checked"});
    }
    for (auto& r : results) {
      if (r.check == kVmProcess)
        r = {std::string(kVmProcess), false, message};
    }
    tr = sm_.observe(tenant, results, service_.env().clock->now_ms());
  }
  note(tenant, tr, results);
}

void Watchdog::tap_recreated(const std::string& tenant) {
  std::lock_guard lock(mu_);
  stale_tap_.insert(tenant);
}

void Watchdog::reset(const std::string& tenant) {
  std::lock_guard lock(mu_);
  sm_.forget(tenant);
}

std::optional<TenantHealth> Watchdog::health(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  const TenantHealth* h = sm_.get(tenant);
  if (h == nullptr)
    return std::nullopt;
  return *h;
}

std::map<std::string, HealthState> Watchdog::states() const {
  std::lock_guard lock(mu_);
  return sm_.states();
}

}  // namespace lobster::health
