// Pure builders for Caddy's JSON configuration: the base config lobsterd runs its own Caddy
// with, and the two routes (WebSocket + HTTP) each tenant gets (spec §5.6, with fixes: the
// admin API listens on a 0600 Unix socket, and the full route set is always part of the base
// config so a Caddy restart restores every route, spec §16 item 11/13).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lobster::proxy {

struct ProxyOptions {
  std::string domain = "lobster.localhost";
  int64_t http_port = 80;
  int64_t https_port = 443;
  std::string admin_socket;                  // Unix socket path for Caddy's admin API
  std::string storage_dir;                   // Caddy's data (internal CA, certificates)
  std::optional<std::string> tls_cert_path;  // operator-provided certificate (else ACME/internal)
  std::optional<std::string> tls_key_path;
};

struct TenantRoute {
  std::string tenant;
  std::string upstream;  // "10.0.0.6:9000"
  bool operator==(const TenantRoute&) const = default;
};

inline constexpr const char* kServerName = "lobster";

std::string route_id(const std::string& tenant);     // "lobster-<tenant>"
std::string ws_route_id(const std::string& tenant);  // "lobster-<tenant>-ws"
std::string tenant_host(const std::string& tenant, const std::string& domain);

// True when certificates come from Caddy's internal CA (.localhost, .local, .internal names).
bool uses_internal_ca(const std::string& domain);

// How a client on this host is named to a tenant's gateway in X-Forwarded-For.
inline constexpr const char* kHostLocalClientAddress = "0.0.0.0";
// X-Forwarded-For values that mean "the TCP peer was on loopback" (Caddy writes exactly the
// peer address there).
inline constexpr const char* kLoopbackPeerPattern = R"(^(?:127\.[0-9.]+|::1|::ffff:127\.[0-9.]+)$)";

// The request-header operations of every reverse_proxy handler: the tenant's gateway trusts
// exactly the host side of its /30 as a proxy (tenant/guest_config.h) and takes the client
// address from X-Forwarded-For, so the proxy must write it and never pass on what a client
// sent.
nlohmann::json forwarded_header_policy();

// [ws_route, http_route] for one tenant; the WebSocket route must precede the HTTP route.
std::vector<nlohmann::json> tenant_routes(const TenantRoute& route, const std::string& domain);

// The whole Caddy config: admin socket, storage, the "lobster" server with every route, TLS.
nlohmann::json base_config(const ProxyOptions& options, const std::vector<TenantRoute>& routes);

}  // namespace lobster::proxy
