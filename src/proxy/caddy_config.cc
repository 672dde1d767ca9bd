#include "proxy/caddy_config.h"

namespace lobster::proxy {

using nlohmann::json;

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

bool uses_on_demand_tls(const ProxyOptions& o) {
  return !(o.tls_cert_path && o.tls_key_path) && !uses_internal_ca(o.domain);
}

std::string ask_url(const ProxyOptions& o) {
  return "http://127.0.0.1:" + std::to_string(o.ask_port) + "/v1/ask";
}

namespace {

json ingress_handler(const std::string& ingress_socket) {
  return {{"handler", "reverse_proxy"},
          {"upstreams", json::array({{{"dial", "unix/" + ingress_socket}}})},
          // One upstream connection per request: the ingress routes a connection by its first
          // request head only, so a pooled connection must never carry another tenant's request.
          {"transport",
           {{"protocol", "http"}, {"dial_timeout", "3s"}, {"keep_alive", {{"enabled", false}}}}},
          {"flush_interval", -1},
          {"headers", {{"request", forwarded_header_policy()}}}};
}

// Hosts outside *.<domain>: the same JSON error shape lobsterd answers everywhere.
json not_found_handler() {
  return {{"handler", "static_response"},
          {"status_code", 404},
          {"headers", {{"Content-Type", json::array({"application/json"})}}},
          {"body", R"({"code":"TENANT_NOT_FOUND","message":"no tenant is served at this host"})"},
          {"close", true}};
}

}  // namespace

json forwarded_header_policy() {
  // Caddy (>= 2.5, no trusted_proxies configured) already replaces any client-sent
  // X-Forwarded-For/-Proto/-Host with the TCP peer, "https" and the requested host; these ops
  // run after that. A loopback peer is a client on this host: OpenClaw refuses a loopback
  // address forwarded by a proxy (it would look like a local, more trusted client), so it is
  // forwarded as 0.0.0.0, "this host" (RFC 1122 3.2.1.3), which OpenClaw attributes like any
  // other remote client.
  // Forwarded (RFC 7239) and X-Real-IP are not written by Caddy: drop what a client sent.
  return {{"replace",
           {{"X-Forwarded-For", json::array({{{"search_regexp", kLoopbackPeerPattern},
                                              {"replace", kHostLocalClientAddress}}})}}},
          {"delete", json::array({"Forwarded", "X-Real-IP"})}};
}

json base_config(const ProxyOptions& o) {
  std::string wildcard = "*." + o.domain;
  json routes = json::array({{{"match", json::array({{{"host", json::array({wildcard})}}})},
                              {"handle", json::array({ingress_handler(o.ingress_socket)})},
                              {"terminal", true}},
                             {{"handle", json::array({not_found_handler()})}, {"terminal", true}}});
  json server = {
      {"listen",
       json::array({":" + std::to_string(o.https_port), ":" + std::to_string(o.http_port)})},
      {"routes", routes},
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
  if (uses_on_demand_tls(o)) {
    apps["tls"] = {{"automation",
                    {{"on_demand", {{"ask", ask_url(o)}}},
                     {"policies", json::array({{{"subjects", json::array({wildcard})},
                                                {"on_demand", true}}})}}}};
  }
  cfg["apps"] = apps;
  return cfg;
}

}  // namespace lobster::proxy
