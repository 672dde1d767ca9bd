#include "proxy/caddy_config.h"

namespace lobster::proxy {

using nlohmann::json;

std::string route_id(const std::string& tenant) { return "lobster-" + tenant; }
std::string ws_route_id(const std::string& tenant) { return "lobster-" + tenant + "-ws"; }
std::string tenant_host(const std::string& tenant, const std::string& domain) {
  return tenant + "." + domain;
}

bool uses_internal_ca(const std::string& domain) {
  for (const char* suffix : {"localhost", ".local", ".internal", ".test"}) {
    std::string_view s(suffix);
    if (domain == s || domain.ends_with(s))
      return true;
  }
  return false;
}

namespace {

json proxy_handler(const std::string& upstream, bool close_upstream) {
  json h = {{"handler", "reverse_proxy"},
            {"upstreams", json::array({{{"dial", upstream}}})},
            {"transport", {{"protocol", "http"}, {"dial_timeout", "3s"}}},
            {"load_balancing", {{"try_duration", "30s"}, {"try_interval", "500ms"}}},
            {"headers", {{"request", forwarded_header_policy()}}}};
  if (close_upstream) {
    // No upstream keep-alive pooling: pooled idle connections would count as active clients
    // in the guest and block idle suspend (spec §5.6).
    h["headers"]["request"]["set"] = {{"Connection", json::array({"close"})}};
  }
  return h;
}

}  // namespace

json forwarded_header_policy() {
  // Caddy (>= 2.5, no trusted_proxies configured) already replaces any client-sent
  // X-Forwarded-For/-Proto/-Host with the TCP peer, "https" and the requested host; these ops
  // run after that. A loopback peer is a client on this host: OpenClaw refuses a loopback
  // address forwarded by a proxy (it would look like a local, more trusted client), so it is
  // forwarded as 0.0.0.0, "this host" (RFC 1122 3.2.1.3), which OpenClaw attributes like any
  // other remote client.
  return {{"replace",
           {{"X-Forwarded-For", json::array({{{"search_regexp", kLoopbackPeerPattern},
                                              {"replace", kHostLocalClientAddress}}})}}}};
}

std::vector<json> tenant_routes(const TenantRoute& route, const std::string& domain) {
  std::string host = tenant_host(route.tenant, domain);
  json ws = {{"@id", ws_route_id(route.tenant)},
             {"match", json::array({{{"host", json::array({host})},
                                     {"header", {{"Connection", json::array({"*Upgrade*"})}}}}})},
             {"handle", json::array({proxy_handler(route.upstream, false)})},
             {"terminal", true}};
  json http = {{"@id", route_id(route.tenant)},
               {"match", json::array({{{"host", json::array({host})}}})},
               {"handle", json::array({proxy_handler(route.upstream, true)})},
               {"terminal", true}};
  return {ws, http};
}

json base_config(const ProxyOptions& o, const std::vector<TenantRoute>& routes) {
  json route_list = json::array();
  for (const auto& r : routes) {
    for (auto& j : tenant_routes(r, o.domain)) route_list.push_back(std::move(j));
  }
  json server = {
      {"listen",
       json::array({":" + std::to_string(o.https_port), ":" + std::to_string(o.http_port)})},
      {"routes", route_list},
  };
  // Caddy decides which ports are "HTTP" and "HTTPS" by these app-level settings.
  json http_app = {{"http_port", o.http_port},
                   {"https_port", o.https_port},
                   {"servers", {{kServerName, server}}}};
  json cfg = {
      {"admin", {{"listen", "unix/" + o.admin_socket}, {"config", {{"persist", false}}}}},
      {"storage", {{"module", "file_system"}, {"root", o.storage_dir}}},
      {"logging", {{"logs", {{"default", {{"level", "WARN"}}}}}}},
  };
  json apps = {{"http", http_app}};
  std::string wildcard = "*." + o.domain;
  if (o.tls_cert_path && o.tls_key_path) {
    apps["http"]["servers"][kServerName]["tls_connection_policies"] = json::array({json::object()});
    apps["tls"] = {{"certificates",
                    {{"load_files", json::array({{{"certificate", *o.tls_cert_path},
                                                  {"key", *o.tls_key_path}}})}}}};
  } else if (uses_internal_ca(o.domain)) {
    // Local names cannot get public certificates: Caddy's own CA signs them. Never touch the
    // host's trust store.
    apps["pki"] = {{"certificate_authorities", {{"local", {{"install_trust", false}}}}}};
    apps["tls"] = {
        {"automation",
         {{"policies", json::array({{{"subjects", json::array({wildcard, o.domain})},
                                     {"issuers", json::array({{{"module", "internal"}}})}}})}}}};
  }
  cfg["apps"] = apps;
  return cfg;
}

}  // namespace lobster::proxy
