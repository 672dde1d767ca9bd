// GET /v1/status: the daemon's identity and the host's readiness, for `lobsterd status`.
#include "api/endpoints.h"

namespace lobster::api {

void register_status(Router& router, ApiContext& ctx) {
  router.add("GET", "/v1/status", [&ctx](const Request&) -> Result<Response> {
    auto tenants = LOB_TRY(ctx.store->list_tenants());
    nlohmann::json names = nlohmann::json::array();
    for (const store::Tenant& t : tenants) {
      names.push_back(t.name);
    }
    nlohmann::json body = {
        {"pid", ctx.daemon_pid},
        {"version", version()},
        {"root", ctx.paths.root.empty() ? "/" : ctx.paths.root},
        {"socket", ctx.paths.api_socket()},
        {"log", ctx.paths.daemon_log()},
        {"startedAt", ctx.started_ms},
        {"uptimeMs", ctx.clock->monotonic_ms() - ctx.started_monotonic_ms},
        {"domain", ctx.config.caddy.domain},
        {"vmmDriver", vmm_driver_name(ctx.config.vmm.driver)},
        {"preflight", ctx.preflight},
        {"tenantCount", tenants.size()},
        {"tenants", std::move(names)},
    };
    return Response{200, std::move(body)};
  });
}

}  // namespace lobster::api
