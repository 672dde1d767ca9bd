// Hold endpoints (spec §9.6): leases that keep a tenant from being auto-suspended while a CLI
// session uses it. Stored by the daemon and forwarded to the guest agent.
//   POST   /v1/tenants/{name}/holds        {ttlMs?}  -> 201 {holdId, tenant, expiresAtMs, ...}
//   PUT    /v1/tenants/{name}/holds/{id}   {ttlMs?}  keepalive -> 200 (same shape)
//   DELETE /v1/tenants/{name}/holds/{id}             -> 200 {released: bool}
//   GET    /v1/tenants/{name}/holds                  -> {holds: [{holdId, expiresAtMs}]}
#include "api/endpoints.h"
#include "health/holds.h"
#include "tenant/service.h"

namespace lobster::api {
namespace {

Result<int64_t> ttl_of(const Request& r) {
  if (!r.body.is_object() || !r.body.contains("ttlMs"))
    return health::kHoldTtlMs;
  if (!r.body["ttlMs"].is_number_integer())
    return make_error(ErrorCode::kValidationFailed, "ttlMs: expected an integer");
  return r.body["ttlMs"].get<int64_t>();
}

nlohmann::json hold_json(const health::HoldResult& h, int64_t ttl_ms) {
  return {{"holdId", h.hold.hold_id},
          {"tenant", h.hold.tenant},
          {"expiresAtMs", h.hold.expires_at_ms},
          {"ttlMs", ttl_ms},
          {"keepaliveMs", health::kHoldKeepaliveMs},
          {"guestNotified", h.guest_notified}};
}

}  // namespace

void register_holds(Router& router, ApiContext& ctx) {
  router.add("POST", "/v1/tenants/{name}/holds", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    int64_t ttl = LOB_TRY(ttl_of(r));
    auto h = LOB_TRY(
        health::acquire_hold(svc->env(), r.params.at("name"), ttl, store::Actor::uid(r.peer.uid)));
    return Response{201, hold_json(h, ttl)};
  });
  router.add("PUT", "/v1/tenants/{name}/holds/{id}", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    int64_t ttl = LOB_TRY(ttl_of(r));
    auto h = LOB_TRY(health::keep_hold(svc->env(), r.params.at("name"), r.params.at("id"), ttl,
                                       store::Actor::uid(r.peer.uid)));
    return Response{200, hold_json(h, ttl)};
  });
  router.add(
      "DELETE", "/v1/tenants/{name}/holds/{id}", [&ctx](const Request& r) -> Result<Response> {
        tenant::TenantService* svc = LOB_TRY(service(ctx));
        bool existed = LOB_TRY(health::release_hold(
            svc->env(), r.params.at("name"), r.params.at("id"), store::Actor::uid(r.peer.uid)));
        return Response{200, {{"released", existed}, {"holdId", r.params.at("id")}}};
      });
  router.add("GET", "/v1/tenants/{name}/holds", [&ctx](const Request& r) -> Result<Response> {
    tenant::TenantService* svc = LOB_TRY(service(ctx));
    const std::string& name = r.params.at("name");
    LOB_TRY(svc->get(name));  // 404 for an unknown tenant rather than an empty list
    auto holds = LOB_TRY(svc->env().store->list_holds(name));
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : holds)
      out.push_back({{"holdId", h.hold_id}, {"expiresAtMs", h.expires_at_ms}});
    return Response{200, {{"tenant", name}, {"holds", out}}};
  });
}

}  // namespace lobster::api
