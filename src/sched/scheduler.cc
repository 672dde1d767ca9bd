#include "sched/scheduler.h"

#include <fmt/ranges.h>

#include <set>

#include "health/events.h"
#include "tenant/suspend.h"

namespace lobster::sched {
namespace {

std::string wake_task(const std::string& tenant) { return "wake:" + tenant; }

}  // namespace

Scheduler::Scheduler(tenant::TenantService& service, health::Watchdog& watchdog, LoopHost& host,
                     ActivitySource& activity, const Clock& clock)
    : service_(service), watchdog_(watchdog), host_(host), activity_(activity), clock_(clock) {}

std::optional<int64_t> Scheduler::idle_since(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  auto it = idle_since_.find(tenant);
  return it == idle_since_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::optional<int64_t> Scheduler::armed_wake(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  auto it = armed_.find(tenant);
  return it == armed_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

std::optional<std::vector<std::string>> Scheduler::busy_reasons(const store::Tenant& t) {
  tenant::TenantEnv& env = service_.env();
  std::vector<std::string> reasons;
  if (auto holds = env.store->list_holds(t.name); holds && !holds->empty())
    reasons.push_back(fmt::format("{} hold(s)", holds->size()));
  auto f = tenant::facts_for(env, t);
  if (!f)
    return std::nullopt;
  auto conns = tenant::agent_for(env, t, *f).get_active_connections();
  if (!conns)
    return std::nullopt;
  if (conns->cron > 0)
    reasons.push_back("cron job running");
  if (conns->hold > 0)
    reasons.push_back(fmt::format("{} guest hold(s)", conns->hold));
  if (conns->outbound > 0)
    reasons.push_back(fmt::format("{} outbound connection(s)", conns->outbound));
  if (auto last = activity_.last_client_activity_ms(t.name)) {
    int64_t ago = env.clock->now_ms() - *last;
    if (ago < env.config.watchdog.idle_threshold_ms)
      reasons.push_back(fmt::format("client activity {} ms ago", ago));
  }
  return reasons;
}

void Scheduler::poll() {
  tenant::TenantEnv& env = service_.env();
  const Config::Watchdog& cfg = env.config.watchdog;
  (void)env.store->prune_expired_holds(store::Actor::daemon());
  auto tenants = env.store->list_tenants();
  if (!tenants) {
    log::error("sched.list_failed", {{"error", tenants.error().message}});
    return;
  }
  std::set<std::string> present;
  for (const auto& t : *tenants) {
    present.insert(t.name);
    const int64_t now = clock_.monotonic_ms();
    if (t.status == store::TenantStatus::kSuspended) {
      {
        std::lock_guard lock(mu_);
        idle_since_.erase(t.name);
      }
      arm_wake(t);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      // Resumed by someone else: its timer has no purpose left.
      if (armed_.erase(t.name) > 0)
        host_.cancel(wake_task(t.name));
    }
    auto forget = [&] {
      std::lock_guard lock(mu_);
      idle_since_.erase(t.name);
    };
    if (t.status != store::TenantStatus::kActive || !cfg.idle_suspend) {
      forget();
      continue;
    }
    auto h = watchdog_.health(t.name);
    if (h &&
        (h->state == health::HealthState::kDegraded || h->state == health::HealthState::kFailed ||
         h->state == health::HealthState::kRecovering)) {
      forget();  // never suspend a broken VM
      continue;
    }
    if (!service_.in_flight(t.name).empty())
      continue;
    {
      std::lock_guard lock(mu_);
      auto g = grace_until_.find(t.name);
      if (g != grace_until_.end() && now < g->second) {
        idle_since_.erase(t.name);
        continue;
      }
    }
    auto reasons = busy_reasons(t);
    if (!reasons)
      continue;  // unknown: leave the idle clock alone
    note_busy(t.name, *reasons);
    if (!reasons->empty()) {
      forget();
      continue;
    }
    int64_t since = 0;
    {
      std::lock_guard lock(mu_);
      since = idle_since_.emplace(t.name, now).first->second;
    }
    if (now - since >= cfg.idle_threshold_ms)
      suspend_idle(t.name, now - since);
  }
  std::lock_guard lock(mu_);
  std::erase_if(idle_since_, [&](const auto& kv) { return !present.contains(kv.first); });
  std::erase_if(grace_until_, [&](const auto& kv) { return !present.contains(kv.first); });
  std::erase_if(busy_, [&](const auto& kv) { return !present.contains(kv.first); });
  for (auto it = armed_.begin(); it != armed_.end();) {
    if (present.contains(it->first)) {
      ++it;
    } else {
      host_.cancel(wake_task(it->first));
      it = armed_.erase(it);
    }
  }
}

void Scheduler::note_busy(const std::string& name, const std::vector<std::string>& reasons) {
  // What keeps a tenant awake, logged when it changes (not every poll).
  std::string key = fmt::format("{}", fmt::join(reasons, "; "));
  {
    std::lock_guard lock(mu_);
    auto [it, added] = busy_.try_emplace(name, key);
    if (!added && it->second == key)
      return;
    it->second = key;
  }
  log::info("sched.busy", {{"tenant", name}, {"reasons", reasons}, {"idle", reasons.empty()}});
}

void Scheduler::suspend_idle(const std::string& name, int64_t idle_ms) {
  tenant::TenantEnv& env = service_.env();
  auto r = service_.try_exclusive(name, "suspend", [&](const tenant::Progress& p) {
    return tenant::suspend(env, name, store::Actor::daemon(), p);
  });
  if (!r)
    return;  // an operation started meanwhile
  {
    std::lock_guard lock(mu_);
    idle_since_.erase(name);
  }
  if (!*r) {
    const Error& e = r->error();
    bool skipped = e.code == ErrorCode::kSuspendSkipped;
    health::record_event(*env.store, skipped ? log::Level::kInfo : log::Level::kWarn,
                         skipped ? "sched.suspend-skipped" : "sched.suspend-failed", name,
                         {{"reason", e.message}}, code_name(e.code));
    return;
  }
  const tenant::WakePlan& wake = (*r)->wake;
  health::record_event(
      *env.store, log::Level::kInfo, "sched.suspend", name,
      {{"reason", fmt::format("idle for {} ms (no client activity, cron job, hold or outbound "
                              "connection)",
                              idle_ms)},
       {"idleMs", idle_ms},
       {"nextWakeAtMs",
        wake.next_wake_at_ms ? nlohmann::json(*wake.next_wake_at_ms) : nlohmann::json(nullptr)},
       {"wakeReason",
        wake.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(wake.reason)}});
  arm_wake((*r)->tenant);
}

void Scheduler::arm_wake(const store::Tenant& t) {
  auto info = nlohmann::json::parse(t.suspend_info, nullptr, false);
  std::optional<int64_t> at;
  std::string reason = "cron";
  if (info.is_object() && info.contains("nextWakeAtMs") && info["nextWakeAtMs"].is_number_integer())
    at = info["nextWakeAtMs"].get<int64_t>();
  if (info.is_object() && info.contains("wakeReason") && info["wakeReason"] == "heartbeat")
    reason = "heartbeat";
  std::lock_guard lock(mu_);
  auto it = armed_.find(t.name);
  if (!at) {
    if (it != armed_.end()) {
      host_.cancel(wake_task(t.name));
      armed_.erase(it);
    }
    return;
  }
  if (it != armed_.end() && it->second == *at)
    return;  // already armed for that time
  armed_[t.name] = *at;
  // The loop host runs on the monotonic clock: convert, so a wall-clock jump after arming
  // cannot fire the timer early. A time already past fires at once (catch-up).
  const int64_t due = clock_.monotonic_ms() + (*at - clock_.now_ms());
  host_.once(wake_task(t.name), due, [this, name = t.name, reason] { wake(name, reason, 0); });
  log::info("sched.wake_armed", {{"tenant", t.name}, {"atMs", *at}, {"reason", reason}});
}

void Scheduler::wake(const std::string& name, const std::string& reason, int attempt) {
  tenant::TenantEnv& env = service_.env();
  auto r = service_.try_exclusive(name, "resume", [&](const tenant::Progress& p) {
    return tenant::resume(env, name, store::Actor::daemon(), p);
  });
  if (!r) {
    if (attempt < kWakeRetries) {
      host_.once(wake_task(name), clock_.monotonic_ms() + kWakeRetryMs,
                 [this, name, reason, attempt] { wake(name, reason, attempt + 1); });
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    armed_.erase(name);
  }
  if (!*r) {
    auto t = env.store->get_tenant(name);
    if (t && t->status != store::TenantStatus::kSuspended)
      return;  // resumed or evicted by someone else meanwhile
    health::record_event(*env.store, log::Level::kError, "sched.resume-failed", name,
                         {{"trigger", reason}, {"error", r->error().message}},
                         code_name(r->error().code));
    return;  // the next poll re-arms it (catch-up fires at once)
  }
  {
    std::lock_guard lock(mu_);
    grace_until_[name] =
        clock_.monotonic_ms() + env.config.watchdog.cron_wake_ahead_ms + kWakeGraceMs;
  }
  health::record_event(*env.store, log::Level::kInfo, "sched.resume", name,
                       {{"trigger", reason}, {"pid", (*r)->tenant.vm ? (*r)->tenant.vm->pid : 0}});
}

}  // namespace lobster::sched
