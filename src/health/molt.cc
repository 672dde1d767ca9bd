#include "health/molt.h"

#include <future>

#include "core/log.h"
#include "tenant/suspend.h"

namespace lobster::health {
namespace {

void say(const tenant::Progress& progress, std::string_view phase, std::string_view detail) {
  if (progress)
    progress(phase, detail);
}

}  // namespace

nlohmann::json to_json(const MoltResult& r) {
  nlohmann::json initial = nlohmann::json::array();
  nlohmann::json repairs = nlohmann::json::array();
  nlohmann::json final_checks = nlohmann::json::array();
  for (const auto& c : r.initial_checks) initial.push_back(to_json(c));
  for (const auto& x : r.repairs) repairs.push_back(to_json(x));
  for (const auto& c : r.final_checks) final_checks.push_back(to_json(c));
  return {{"tenant", r.tenant},       {"healthy", r.healthy}, {"resumed", r.resumed},
          {"initialChecks", initial}, {"repairs", repairs},   {"finalChecks", final_checks}};
}

Result<MoltResult> molt(tenant::TenantEnv& env, const std::string& name, const store::Actor& actor,
                        const tenant::Progress& progress) {
  store::Tenant t = LOB_TRY(env.store->get_tenant(name));
  MoltResult r;
  r.tenant = name;
  switch (t.status) {
    case store::TenantStatus::kActive:
    case store::TenantStatus::kFailed:  // "needs repair or evict": molt is the repair
      break;
    case store::TenantStatus::kSuspended:
      say(progress, "resume", "tenant is suspended; resuming it first");
      LOB_TRY(tenant::resume(env, name, actor, progress));
      t = LOB_TRY(env.store->get_tenant(name));
      r.resumed = true;
      break;
    case store::TenantStatus::kRemoving:
      return make_error(ErrorCode::kValidationFailed, "tenant \"{}\" is being removed", name);
    case store::TenantStatus::kCreating:
    case store::TenantStatus::kSuspending:
    case store::TenantStatus::kResuming:
      return make_error(ErrorCode::kInvalidState, "tenant \"{}\" is {}; try again when it is done",
                        name, store::status_name(t.status));
  }
  say(progress, "checking", fmt::format("running {} health checks", kCheckOrder.size()));
  r.initial_checks = run_checks(env, t);
  if (all_ok(r.initial_checks) && t.status == store::TenantStatus::kActive) {
    r.healthy = true;
    r.final_checks = r.initial_checks;
    say(progress, "done", "Already healthy");
    return r;
  }
  std::vector<RepairKind> plan = plan_repairs(r.initial_checks);
  say(progress, "repairing",
      fmt::format("{} issue(s) found", failed_checks(r.initial_checks).size()));
  r.repairs = run_repairs(env, t, plan, actor, progress);
  say(progress, "verifying", fmt::format("running {} health checks again", kCheckOrder.size()));
  // The repairs may have recorded a new VMM: check what the store says now.
  t = LOB_TRY(env.store->get_tenant(name));
  r.final_checks = run_checks(env, t);
  r.healthy = all_ok(r.final_checks);
  if (r.healthy && t.status == store::TenantStatus::kFailed) {
    LOB_TRY(env.store->update_tenant(name,
                                     {.expect_status = {store::TenantStatus::kFailed},
                                      .status = store::TenantStatus::kActive,
                                      .intent = std::string()},
                                     actor));
  }
  say(progress, "done", r.healthy ? "Healthy" : "Still degraded");
  log::info("health.molted", {{"tenant", name},
                              {"healthy", r.healthy},
                              {"failed", failed_checks(r.initial_checks)},
                              {"still_failed", failed_checks(r.final_checks)}});
  return r;
}

tenant::TankEntry tank_entry(tenant::TenantEnv& env, const store::Tenant& t) {
  tenant::TankEntry e;
  e.name = t.name;
  e.status = std::string(store::status_name(t.status));
  e.vcpus = t.vcpus;
  e.mem_limit_mb = t.mem_mb;
  auto f = tenant::facts_for(env, t);
  if (!f) {
    e.state = "UNKNOWN";
    return e;
  }
  e.ip = f->subnet.guest.to_string();
  if (t.status == store::TenantStatus::kSuspended) {
    e.vm_pid = "suspended";
    e.state = "SUSPENDED";
    return e;
  }
  e.vm_pid = "dead";
  if (t.vm) {
    if (auto vm = tenant::attach_vm(env, t, *f); vm) {
      e.vm_pid = std::to_string(t.vm->pid);
      if (auto stats = (*vm)->stats(); stats) {
        e.memory_mb = stats->rss_bytes >> 20;
        e.peak_memory_mb = stats->peak_rss_bytes >> 20;
      }
    }
  }
  if (t.status != store::TenantStatus::kActive) {
    e.state = "UNKNOWN";  // an operation is running on it; checks would race it
    return e;
  }
  for (const auto& c : run_checks(env, t)) {
    if (!c.ok)
      e.failed_checks.emplace_back(c.check, c.message);
  }
  e.state = e.failed_checks.empty() ? "HEALTHY" : "DEGRADED";
  return e;
}

Result<std::vector<tenant::TankEntry>> tank(tenant::TenantEnv& env) {
  auto tenants = LOB_TRY(env.store->list_tenants());
  std::vector<std::future<tenant::TankEntry>> rows;
  rows.reserve(tenants.size());
  for (const auto& t : tenants) {
    rows.push_back(std::async(std::launch::async, [&env, &t] { return tank_entry(env, t); }));
  }
  std::vector<tenant::TankEntry> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(r.get());
  return out;
}

}  // namespace lobster::health
