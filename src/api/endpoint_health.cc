// GET /v1/health: liveness for scripts and monitors. Always 200 while the daemon serves;
// tenantCount is -1 (and status "degraded") when the store cannot be read.
#include "api/endpoints.h"

namespace lobster::api {

void register_health(Router& router, ApiContext& ctx) {
  router.add("GET", "/v1/health", [&ctx](const Request&) -> Result<Response> {
    int64_t uptime_s = (ctx.clock->monotonic_ms() - ctx.started_monotonic_ms) / 1000;
    auto tenants = ctx.store->list_tenants();
    nlohmann::json body = {
        {"status", tenants ? "ok" : "degraded"},
        {"uptime", uptime_s},
        {"tenantCount", tenants ? static_cast<int64_t>(tenants->size()) : -1},
    };
    return Response{200, std::move(body)};
  });
}

}  // namespace lobster::api
