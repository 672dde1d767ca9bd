// Molt endpoints (spec §6.9, §10): check, repair and re-check tenants.
//   POST /v1/tenants/{name}/molt   one tenant (a suspended one is resumed first) -> MoltResult
//   POST /v1/molt                  every active tenant, one after another
//                                  -> {healthy, results: [MoltResult...]}
// Each tenant is molted under its operation lock, so it never overlaps another operation on
// the same tenant.
#include "api/endpoints.h"
#include "health/molt.h"
#include "health/watchdog.h"

namespace lobster::api {
namespace {

// An operator's molt is the action that ends FAILED: the watchdog starts over with the tenant.
Result<health::MoltResult> molt_one(ApiContext& ctx, tenant::TenantService& svc,
                                    const std::string& name, const store::Actor& actor) {
  auto r = svc.exclusive(name, [&](const tenant::Progress& progress) {
    return health::molt(svc.env(), name, actor, progress);
  });
  if (r && ctx.watchdog != nullptr)
    ctx.watchdog->reset(name);
  return r;
}

}  // namespace

void register_molt(Router& router, ApiContext& ctx) {
  router.add("POST", "/v1/tenants/{name}/molt", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    auto result = LOB_TRY(molt_one(ctx, *svc, r.params.at("name"), store::Actor::uid(r.peer.uid)));
    return Response{200, health::to_json(result)};
  });
  router.add("POST", "/v1/molt", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    auto tenants = LOB_TRY(svc->env().store->list_tenants());
    nlohmann::json results = nlohmann::json::array();
    bool healthy = true;
    for (const auto& t : tenants) {
      if (t.status != store::TenantStatus::kActive)
        continue;
      auto result = molt_one(ctx, *svc, t.name, store::Actor::uid(r.peer.uid));
      if (!result) {
        // Evicted or suspended meanwhile: report it and go on with the others.
        healthy = false;
        results.push_back(
            {{"tenant", t.name},
             {"healthy", false},
             {"error",
              {{"code", code_name(result.error().code)}, {"message", result.error().message}}}});
        continue;
      }
      healthy = healthy && result->healthy;
      results.push_back(health::to_json(*result));
    }
    return Response{200, {{"healthy", healthy}, {"results", results}}};
  });
}

}  // namespace lobster::api
