#include "api/endpoints.h"

namespace lobster::api {

std::string_view version() { return LOBSTER_VERSION; }

Result<tenant::TenantService*> service(ApiContext& ctx) {
  if (ctx.tenants == nullptr) {
    Error e = ctx.tenants_unavailable;
    if (e.message.empty())
      e = Error{ErrorCode::kPreflightFailed, "tenant operations unavailable"};
    e.message = "this host cannot run tenants: " + e.message;
    if (e.hint.empty())
      e.hint = "see `lobsterd status` and the daemon log";
    return make_error(std::move(e));
  }
  return ctx.tenants;
}

void register_all(Router& router, ApiContext& ctx) {
  register_health(router, ctx);
  register_status(router, ctx);
  register_tenants(router, ctx);
  register_tenant_data(router, ctx);
  register_molt(router, ctx);
  register_holds(router, ctx);
}

}  // namespace lobster::api
