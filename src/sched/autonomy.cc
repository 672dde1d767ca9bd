#include "sched/autonomy.h"

#include "health/events.h"

namespace lobster::sched {
namespace {

// An operation holding the tenant may be stopping its VMM on purpose; the exit is judged once
// it is done (checked this often, for at most kMaxDeferrals times: 10 minutes).
constexpr int64_t kExitDeferMs = 500;
constexpr int kMaxDeferrals = 1200;

std::string exit_task(const std::string& tenant) { return "vm-exit:" + tenant; }

}  // namespace

Autonomy::Autonomy(tenant::TenantService& service, const Clock& clock, ActivitySource* activity)
    : service_(service),
      clock_(clock),
      watchdog_(service),
      host_(clock),
      exits_([this](VmExit e) { on_exit(e); },
             [this](const std::string& tenant) -> int64_t {
               tenant::TenantEnv& env = service_.env();
               auto t = env.store->get_tenant(tenant);
               if (!t)
                 return 0;
               auto f = tenant::facts_for(env, *t);
               return f ? cgroup::oom_kill_count(*env.cgroups, f->vm_id) : 0;
             }),
      guest_activity_(service),
      scheduler_(service, watchdog_, host_, activity != nullptr ? *activity : guest_activity_,
                 clock) {
  // resume() hands its poke-cron to us, so a slow guest never delays the resume itself.
  service_.env().run_in_background = [this](const std::string& name, std::function<void()> fn) {
    host_.once(name, clock_.monotonic_ms(), std::move(fn));
  };
}

Autonomy::~Autonomy() {
  stop();
  service_.env().run_in_background = nullptr;
}

void Autonomy::register_tasks(bool watch_exits) {
  const Config& cfg = service_.env().config;
  if (watch_exits)
    host_.every(
        "vm-sync", [] { return kVmSyncMs; }, [this] { sync_exits(); });
  if (!cfg.watchdog.enabled) {
    log::warn("autonomy.disabled", {{"reason", "watchdog.enabled is false"}});
    return;
  }
  host_.every(
      "watchdog", [this] { return service_.env().config.watchdog.interval_ms; },
      [this] { watchdog_.tick(); });
  host_.every(
      "sched", [this] { return service_.env().config.watchdog.traffic_poll_ms; },
      [this] { scheduler_.poll(); });
}

void Autonomy::start() {
  register_tasks(true);
  exits_.start();
  host_.start(4);
  log::info("autonomy.started", {{"watchdog", service_.env().config.watchdog.enabled},
                                 {"intervalMs", service_.env().config.watchdog.interval_ms}});
}

void Autonomy::stop() {
  host_.stop();
  exits_.stop();
}

void Autonomy::sync_exits() {
  auto tenants = service_.env().store->list_tenants();
  if (!tenants) {
    log::error("autonomy.list_failed", {{"error", tenants.error().message}});
    return;
  }
  std::map<std::string, store::VmProcess> want;
  for (const auto& t : *tenants) {
    if (t.status == store::TenantStatus::kActive && t.vm)
      want[t.name] = *t.vm;
  }
  exits_.sync(want);
}

void Autonomy::on_exit(const VmExit& exit) {
  host_.once(exit_task(exit.tenant), clock_.monotonic_ms(), [this, exit] { handle_exit(exit, 0); });
}

void Autonomy::handle_exit(const VmExit& exit, int deferrals) {
  std::string op = service_.in_flight(exit.tenant);
  if (!op.empty() && op != health::kWatchdogCheckLabel) {
    if (deferrals < kMaxDeferrals) {
      host_.once(exit_task(exit.tenant), clock_.monotonic_ms() + kExitDeferMs,
                 [this, exit, deferrals] { handle_exit(exit, deferrals + 1); });
    }
    return;
  }
  tenant::TenantEnv& env = service_.env();
  auto t = env.store->get_tenant(exit.tenant);
  if (!t || t->status != store::TenantStatus::kActive || !t->vm || !(*t->vm == exit.vm)) {
    // Stopped by an operation (suspend, evict, a repair's restart): not news.
    log::debug("vm.exit_expected", {{"tenant", exit.tenant}, {"pid", exit.vm.pid}});
    return;
  }
  std::string cause = exit.cause();
  nlohmann::json fields = {{"pid", exit.vm.pid},        {"cause", cause},
                           {"oom", exit.oom()},         {"oomKills", exit.oom_kills},
                           {"reaped", exit.reaped},     {"signal", exit.signal},
                           {"exitCode", exit.exit_code}};
  if (exit.oom()) {
    fields["hint"] = "the VMM hit its cgroup memory limit; respawn the tenant with more memory";
  }
  health::record_event(*env.store, log::Level::kError, "vm.exited", exit.tenant, fields,
                       code_name(ErrorCode::kVmmFailed));
  watchdog_.vm_exited(exit.tenant, fmt::format("VM process {} died: {}", exit.vm.pid, cause));
  host_.poke("watchdog");
}

}  // namespace lobster::sched
