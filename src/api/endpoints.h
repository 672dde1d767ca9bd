// Endpoint registration. Each endpoint (or small group for one resource) lives in its own
// endpoint_<name>.cc with a register_<name>() function; register_all() lists them.
//
// To add an endpoint: write endpoint_foo.cc with `void register_foo(Router&, ApiContext&)`
// (parse the request, call the tenant/ operation, build the JSON reply; no host effects
// here), declare it below, add one line to register_all() in endpoints.cc, and list the file
// in src/api/CMakeLists.txt.
#pragma once

#include "api/context.h"
#include "api/router.h"

namespace lobster::api {

void register_health(Router& router, ApiContext& ctx);       // GET /v1/health
void register_status(Router& router, ApiContext& ctx);       // GET /v1/status
void register_tenants(Router& router, ApiContext& ctx);      // /v1/tenants[/{name}[/...]]
void register_tenant_data(Router& router, ApiContext& ctx);  // snap, snap verify, logs
void register_molt(Router& router, ApiContext& ctx);         // POST /v1/molt, .../{name}/molt
void register_holds(Router& router, ApiContext& ctx);        // /v1/tenants/{name}/holds[/{id}]

// The tenant service, or the reason this host cannot run tenants.
Result<tenant::TenantService*> service(ApiContext& ctx);

// Registers every endpoint above.
void register_all(Router& router, ApiContext& ctx);

}  // namespace lobster::api
