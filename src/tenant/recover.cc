#include "tenant/recover.h"

#include "core/log.h"
#include "tenant/teardown.h"

namespace lobster::tenant {

Result<RecoveryReport> recover(TenantEnv& env) {
  RecoveryReport report;
  auto tenants = LOB_TRY(env.store->list_tenants());
  for (const auto& t : tenants) {
    using store::TenantStatus;
    if (t.status != TenantStatus::kCreating && t.status != TenantStatus::kRemoving)
      continue;
    Status s = teardown(env, t, store::Actor::daemon(), nullptr);
    if (s) {
      report.removed.push_back(t.name);
      log::info("recover.torn_down", {{"tenant", t.name}, {"was", store::status_name(t.status)}});
    } else {
      report.failed.push_back(t.name + ": " + s.error().to_string());
      log::error("recover.failed", {{"tenant", t.name}, {"error", s.error().to_string()}});
    }
  }
  return report;
}

}  // namespace lobster::tenant
