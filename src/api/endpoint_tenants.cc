// Tenant endpoints: thin translations between HTTP/JSON and tenant::TenantService.
//   GET    /v1/tenants                   tank entries (health-checked)
//   POST   /v1/tenants                   spawn {name, profile?, vcpus?, memMb?}
//                                        (spawn, suspend and resume answer with phasesMs)
//   GET    /v1/tenants/{name}            one tenant (+ the running operation's progress)
//   DELETE /v1/tenants/{name}            evict
//   POST   /v1/tenants/{name}/suspend    suspend
//   POST   /v1/tenants/{name}/resume     resume
//   GET    /v1/tenants/{name}/token      gateway token (socket peers are root or group lobsterd)
#include "api/endpoints.h"
#include "health/events.h"
#include "health/molt.h"
#include "health/watchdog.h"
#include "ingress/activity.h"
#include "tenant/service.h"

namespace lobster::api {
namespace {

store::Actor actor_of(const Request& r) { return store::Actor::uid(r.peer.uid); }

Result<std::string> name_param(const Request& r) {
  auto it = r.params.find("name");
  if (it == r.params.end())
    return make_error(ErrorCode::kInternal, "route lacks {{name}}");
  return it->second;
}

// Optional integer field of the request body (0 when absent).
Result<int64_t> int_field(const nlohmann::json& body, const char* key) {
  if (!body.is_object() || !body.contains(key))
    return int64_t{0};
  if (!body[key].is_number_integer() || body[key].get<int64_t>() < 1) {
    return make_error(ErrorCode::kValidationFailed, "{}: expected a positive integer", key);
  }
  return body[key].get<int64_t>();
}

nlohmann::json tenant_json(tenant::TenantService& svc, const store::Tenant& t) {
  tenant::TenantEnv& env = svc.env();
  nlohmann::json j = {{"name", t.name},
                      {"status", store::status_name(t.status)},
                      {"profile", t.profile},
                      {"vcpus", t.vcpus},
                      {"memMb", t.mem_mb},
                      {"createdAtMs", t.created_at_ms},
                      {"url", "https://" + t.name + "." + env.config.caddy.domain},
                      {"vmPid", t.vm ? nlohmann::json(t.vm->pid) : nlohmann::json(nullptr)}};
  if (auto f = tenant::facts_for(env, t); f) {
    j["ip"] = f->subnet.guest.to_string();
    j["hostIp"] = f->subnet.host.to_string();
    j["tap"] = f->tap;
  }
  if (!t.suspend_info.empty())
    j["suspendInfo"] = nlohmann::json::parse(t.suspend_info, nullptr, false);
  std::string progress = svc.progress(t.name);
  if (!progress.empty())
    j["progress"] = progress;
  return j;
}

// {"<phase>": ms, ...}: how long each step of the operation took inside the daemon.
nlohmann::json phases_json(const std::vector<tenant::Phase>& phases) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& p : phases) j[p.name] = p.ms;
  return j;
}

}  // namespace

void register_tenants(Router& router, ApiContext& ctx) {
  router.add("GET", "/v1/tenants", [&ctx](const Request&) -> Result<Response> {
    health::HealthLookup lookup;
    if (ctx.watchdog != nullptr)
      lookup = [wd = ctx.watchdog](const std::string& n) { return wd->health(n); };
    tenant::TenantEnv& env = LOB_TRY(service(ctx))->env();
    auto entries = LOB_TRY(health::tank(env, lookup));
    // The ingress's traffic counters per tenant (ingress/activity.h); null while the ingress
    // does not answer, zeros for a tenant it has not routed a connection for yet.
    auto activity = env.proxy->activity();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json j = tenant::to_json(e);
      if (!activity) {
        j["ingress"] = nullptr;
      } else {
        const ingress::TenantActivity* a = activity->find(e.name);
        j["ingress"] = ingress::to_json(a ? *a : ingress::TenantActivity{});
      }
      out.push_back(std::move(j));
    }
    return Response{200, out};
  });
  router.add("POST", "/v1/tenants", [&ctx](const Request& r) -> Result<Response> {
    if (!r.body.is_object() || !r.body.contains("name") || !r.body["name"].is_string()) {
      return make_error(ErrorCode::kValidationFailed, "body: expected {{\"name\": \"<tenant>\"}}");
    }
    tenant::SpawnRequest req;
    req.name = r.body["name"].get<std::string>();
    if (r.body.contains("profile")) {
      if (!r.body["profile"].is_string()) {
        return make_error(ErrorCode::kValidationFailed, "profile: expected a string");
      }
      req.profile = r.body["profile"].get<std::string>();
    }
    req.vcpus = LOB_TRY(int_field(r.body, "vcpus"));
    req.mem_mb = LOB_TRY(int_field(r.body, "memMb"));
    auto res = LOB_TRY(LOB_TRY(service(ctx))->spawn(req, actor_of(r)));
    nlohmann::json j = tenant_json(*LOB_TRY(service(ctx)), res.tenant);
    j["phasesMs"] = phases_json(res.phases);
    return Response{201, j};
  });
  router.add("GET", "/v1/tenants/{name}", [&ctx](const Request& r) -> Result<Response> {
    auto t = LOB_TRY(LOB_TRY(service(ctx))->get(LOB_TRY(name_param(r))));
    return Response{200, tenant_json(*LOB_TRY(service(ctx)), t)};
  });
  router.add("DELETE", "/v1/tenants/{name}", [&ctx](const Request& r) -> Result<Response> {
    std::string name = LOB_TRY(name_param(r));
    LOB_TRY(LOB_TRY(service(ctx))->evict(name, actor_of(r)));
    return Response{200, {{"message", "tenant \"" + name + "\" evicted"}, {"name", name}}};
  });
  router.add("POST", "/v1/tenants/{name}/suspend", [&ctx](const Request& r) -> Result<Response> {
    std::string name = LOB_TRY(name_param(r));
    auto res = LOB_TRY(LOB_TRY(service(ctx))->suspend(name, actor_of(r)));
    health::record_event(
        *ctx.store, log::Level::kInfo, "tenant.suspend", name,
        {{"reason", "manual"},
         {"actor", actor_of(r).id},
         {"nextWakeAtMs", res.wake.next_wake_at_ms ? nlohmann::json(*res.wake.next_wake_at_ms)
                                                   : nlohmann::json(nullptr)},
         {"wakeReason", res.wake.reason}});
    nlohmann::json j = tenant_json(*LOB_TRY(service(ctx)), res.tenant);
    j["nextWakeAtMs"] = res.wake.next_wake_at_ms ? nlohmann::json(*res.wake.next_wake_at_ms)
                                                 : nlohmann::json(nullptr);
    j["phasesMs"] = phases_json(res.phases);
    return Response{200, j};
  });
  router.add("POST", "/v1/tenants/{name}/resume", [&ctx](const Request& r) -> Result<Response> {
    std::string name = LOB_TRY(name_param(r));
    auto res = LOB_TRY(LOB_TRY(service(ctx))->resume(name, actor_of(r)));
    health::record_event(*ctx.store, log::Level::kInfo, "tenant.resume", name,
                         {{"trigger", "manual"}, {"actor", actor_of(r).id}});
    nlohmann::json j = tenant_json(*LOB_TRY(service(ctx)), res.tenant);
    j["phasesMs"] = phases_json(res.phases);
    return Response{200, j};
  });
  router.add("GET", "/v1/tenants/{name}/token", [&ctx](const Request& r) -> Result<Response> {
    auto t = LOB_TRY(LOB_TRY(service(ctx))->get(LOB_TRY(name_param(r))));
    return Response{200, {{"token", t.gateway_token}}};
  });
}

}  // namespace lobster::api
