// Pure builders for Caddy's JSON configuration. The config is static: one site for
// `*.<domain>` forwarding everything to lobsterd's ingress over its Unix socket
// (DESIGN.md "Ingress"). It depends only on ProxyOptions, never on the tenants, so tenant
// changes never reload Caddy (Caddy 2.6 closes every proxied WebSocket on a reload). The admin
// API listens on a 0600 Unix socket.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lobster::proxy {

struct ProxyOptions {
  std::string domain = "lobster.localhost";
  int64_t http_port = 80;
  int64_t https_port = 443;
  std::string admin_socket;                  // Unix socket path for Caddy's admin API
  std::string storage_dir;                   // Caddy's data (internal CA, certificates)
  std::string ingress_socket;                // the ingress's listen socket (Caddy's upstream)
  int64_t ask_port = 7071;                   // the ingress's on-demand TLS `ask` endpoint
  std::optional<std::string> tls_cert_path;  // operator-provided certificate (else ACME/internal)
  std::optional<std::string> tls_key_path;
};

inline constexpr const char* kServerName = "lobster";

std::string tenant_host(const std::string& tenant, const std::string& domain);

// True when certificates come from Caddy's internal CA (.localhost, .local, .internal names).
bool uses_internal_ca(const std::string& domain);

// How a client on this host is named to a tenant's gateway in X-Forwarded-For.
inline constexpr const char* kHostLocalClientAddress = "0.0.0.0";
// X-Forwarded-For values that mean "the TCP peer was on loopback" (Caddy writes exactly the
// peer address there).
inline constexpr const char* kLoopbackPeerPattern = R"(^(?:127\.[0-9.]+|::1|::ffff:127\.[0-9.]+)$)";

// The request-header operations of the site's reverse_proxy (the one place that decides what
// a tenant's gateway sees): the gateway trusts exactly the host side of its /30 as a proxy
// (tenant/guest_config.h; that is the ingress's source address) and takes the client address
// from X-Forwarded-For, so Caddy must write it and never pass on what a client sent. The
// ingress relays the head unchanged.
nlohmann::json forwarded_header_policy();

// True when Caddy gets certificates on demand (a public domain without caddy.tls): one per
// tenant name, approved by the ingress's ask endpoint (a wildcard needs a DNS challenge).
bool uses_on_demand_tls(const ProxyOptions& options);
// http://127.0.0.1:<ask_port>/v1/ask: answers 200 only for names of existing tenants.
std::string ask_url(const ProxyOptions& options);

// The whole Caddy config: admin socket, storage, the "lobster" server, TLS.
nlohmann::json base_config(const ProxyOptions& options);

}  // namespace lobster::proxy
