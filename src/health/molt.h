// molt: check one tenant, repair what failed, check again (spec §6.9), plus the `tank` view
// that shares the same checks. Called by the API endpoints under TenantService's per-tenant
// lock, so a molt never overlaps a spawn, evict, suspend or resume of the same tenant.
//
//   auto r = LOB_TRY(svc.exclusive(name, [&](const tenant::Progress& p) {
//     return health::molt(svc.env(), name, actor, p);
//   }));
//
// Phases reported through progress: resume (suspended tenants are resumed first), checking,
// repairing ("N issue(s) found"), repair (one per repair), verifying, done ("Already healthy",
// "Healthy" or "Still degraded").
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "health/checks.h"
#include "health/repairs.h"
#include "health/state_machine.h"
#include "tenant/service.h"

namespace lobster::health {

struct MoltResult {
  std::string tenant;
  bool healthy = false;
  bool resumed = false;  // the tenant was suspended and has been resumed first
  std::vector<CheckResult> initial_checks;
  std::vector<RepairResult> repairs;
  std::vector<CheckResult> final_checks;  // == initial_checks when nothing was repaired
};

// {tenant, healthy, resumed, initialChecks[], repairs[], finalChecks[]} (spec §10 + resumed).
nlohmann::json to_json(const MoltResult& r);

// Errors: kTenantNotFound; kValidationFailed for a tenant being removed; kInvalidState for one
// being created, suspended or resumed right now; resume errors for a suspended tenant.
// A failed repair is not an error: it shows in the result (healthy = false).
Result<MoltResult> molt(tenant::TenantEnv& env, const std::string& name, const store::Actor& actor,
                        const tenant::Progress& progress);

// The watchdog's view of a tenant, when the daemon runs one (nullopt: not watched yet).
using HealthLookup = std::function<std::optional<TenantHealth>(const std::string& tenant)>;

// One `tank` row from the checks (spec §11.2): state SUSPENDED, HEALTHY or DEGRADED, or the
// watchdog's FAILED / RECOVERING when it has given up on or is repairing the tenant (its state,
// attempts and last repair time are in the row too).
tenant::TankEntry tank_entry(tenant::TenantEnv& env, const store::Tenant& tenant,
                             const HealthLookup& health = {});

// Every tenant's row, computed concurrently.
Result<std::vector<tenant::TankEntry>> tank(tenant::TenantEnv& env,
                                            const HealthLookup& health = {});

}  // namespace lobster::health
