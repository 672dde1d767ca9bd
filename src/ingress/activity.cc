#include "ingress/activity.h"

#include "host/http/http_client.h"

namespace lobster::ingress {

const TenantActivity* ActivityReport::find(const std::string& tenant) const {
  auto it = tenants.find(tenant);
  return it == tenants.end() ? nullptr : &it->second;
}

nlohmann::json to_json(const TenantActivity& a) {
  return {{"openConnections", a.open_connections},
          {"waitingConnections", a.waiting_connections},
          {"bytesToTenant", a.bytes_to_tenant},
          {"bytesToClient", a.bytes_to_client},
          {"lastClientActivityMs", a.last_client_activity_ms},
          {"connectionsTotal", a.connections_total},
          {"wakes", a.wakes}};
}

nlohmann::json to_json(const ActivityReport& r) {
  nlohmann::json tenants = nlohmann::json::object();
  for (const auto& [name, a] : r.tenants) tenants[name] = to_json(a);
  return {{"pid", r.pid}, {"startedMs", r.started_ms}, {"domain", r.domain}, {"tenants", tenants}};
}

Result<ActivityReport> activity_from_json(const nlohmann::json& j) {
  auto bad = [] {
    return make_error(ErrorCode::kProtocolError, "malformed ingress activity report");
  };
  if (!j.is_object() || !j.contains("tenants") || !j["tenants"].is_object())
    return bad();
  auto int_of = [](const nlohmann::json& o, const char* key, int64_t& out) {
    if (!o.contains(key) || !o[key].is_number_integer())
      return false;
    out = o[key].get<int64_t>();
    return true;
  };
  ActivityReport r;
  if (!int_of(j, "pid", r.pid) || !int_of(j, "startedMs", r.started_ms) || !j.contains("domain") ||
      !j["domain"].is_string())
    return bad();
  r.domain = j["domain"].get<std::string>();
  for (const auto& [name, a] : j["tenants"].items()) {
    TenantActivity t;
    if (!a.is_object() || !int_of(a, "openConnections", t.open_connections) ||
        !int_of(a, "waitingConnections", t.waiting_connections) ||
        !int_of(a, "bytesToTenant", t.bytes_to_tenant) ||
        !int_of(a, "bytesToClient", t.bytes_to_client) ||
        !int_of(a, "lastClientActivityMs", t.last_client_activity_ms) ||
        !int_of(a, "connectionsTotal", t.connections_total) || !int_of(a, "wakes", t.wakes))
      return bad();
    r.tenants[name] = t;
  }
  return r;
}

namespace {

Result<nlohmann::json> control_get(const std::string& control_socket, const std::string& target,
                                   int timeout_ms) {
  auto unavailable = [&](const Error& cause) {
    return with_hint(
        Error{ErrorCode::kIngressUnavailable, "ingress control " + target + ": " + cause.message},
        "`lobsterd molt` restarts the ingress; its log is in the daemon's log dir");
  };
  auto r = http::request_unix(control_socket,
                              {.method = "GET", .target = target, .host = "ingress"}, timeout_ms);
  if (!r)
    return unavailable(r.error());
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || j.is_discarded())
    return unavailable(Error{ErrorCode::kProtocolError, "HTTP " + std::to_string(r->status)});
  return j;
}

}  // namespace

Result<nlohmann::json> ping(const std::string& control_socket, int timeout_ms) {
  return control_get(control_socket, "/v1/ping", timeout_ms);
}

Result<ActivityReport> query_activity(const std::string& control_socket, int timeout_ms) {
  nlohmann::json j = LOB_TRY(control_get(control_socket, "/v1/activity", timeout_ms));
  auto report = activity_from_json(j);
  if (!report) {
    return make_error(ErrorCode::kIngressUnavailable, "ingress activity: {}",
                      report.error().message);
  }
  return report;
}

}  // namespace lobster::ingress
