// Molt endpoints (spec §6.9, §10): check, repair and re-check tenants.
//   POST /v1/tenants/{name}/molt   one tenant (a suspended one is resumed first) -> MoltResult
//   POST /v1/molt                  every active tenant, one after another
//                                  -> {healthy, results: [MoltResult...]}
// Each tenant is molted under its operation lock, so it never overlaps another operation on
// the same tenant.
#include "api/endpoints.h"
#include "health/molt.h"

namespace lobster::api {
namespace {

Result<health::MoltResult> molt_one(tenant::TenantService& svc, const std::string& name,
                                    const store::Actor& actor) {
  return svc.exclusive(name, [&](const tenant::Progress& progress) {
    return health::molt(svc.env(), name, actor, progress);
  });
}

}  // namespace

void register_molt(Router& router, ApiContext& ctx) {
  router.add("POST", "/v1/tenants/{name}/molt", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    auto result = LOB_TRY(molt_one(*svc, r.params.at("name"), store::Actor::uid(r.peer.uid)));
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
      auto result = molt_one(*svc, t.name, store::Actor::uid(r.peer.uid));
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
