#include "tenant/recover.h"

#include "core/log.h"
#include "tenant/teardown.h"

namespace lobster::tenant {
namespace {

// A suspend or resume cut short by a crash: without the daemon's in-memory VMM handle nothing
// says whether the guest is running, paused or half restored, and until the status leaves
// suspending/resuming every other operation (evict included) refuses the tenant.
Status mark_interrupted_failed(TenantEnv& env, const store::Tenant& t) {
  auto u = env.store->update_tenant(
      t.name, {.expect_status = {t.status}, .status = store::TenantStatus::kFailed, .intent = ""},
      store::Actor::daemon());
  if (!u)
    return make_error(u.error());
  return ok();
}

}  // namespace

Result<RecoveryReport> recover(TenantEnv& env) {
  RecoveryReport report;
  auto tenants = LOB_TRY(env.store->list_tenants());
  for (const auto& t : tenants) {
    using store::TenantStatus;
    const bool unfinished_change =
        t.status == TenantStatus::kCreating || t.status == TenantStatus::kRemoving;
    const bool unfinished_snapshot =
        t.status == TenantStatus::kSuspending || t.status == TenantStatus::kResuming;
    if (!unfinished_change && !unfinished_snapshot)
      continue;
    Status s = unfinished_change ? teardown(env, t, store::Actor::daemon(), nullptr)
                                 : mark_interrupted_failed(env, t);
    if (!s) {
      report.failed.push_back(t.name + ": " + s.error().to_string());
      log::error("recover.failed", {{"tenant", t.name}, {"error", s.error().to_string()}});
    } else if (unfinished_change) {
      report.removed.push_back(t.name);
      log::info("recover.torn_down", {{"tenant", t.name}, {"was", store::status_name(t.status)}});
    } else {
      report.marked_failed.push_back(t.name);
      log::warn("recover.marked_failed",
                {{"tenant", t.name},
                 {"was", store::status_name(t.status)},
                 {"hint", "lobsterd molt " + t.name + " repairs it; evict removes it"}});
    }
  }
  return report;
}

}  // namespace lobster::tenant
