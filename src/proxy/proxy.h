// Proxy: the HTTPS front door. Each tenant gets `<name>.<domain>` routes (HTTP + WebSocket) to
// its gateway; nothing else reaches a gateway. Called by tenant operations (spawn adds routes,
// evict removes them) and by reconcile (sync to exactly the store's tenants).
//
//   auto proxy = LOB_TRY(CaddyProxy::start(options, initial_routes));
//   LOB_TRY(proxy->add_tenant({"alice", "10.0.0.6:9000"}));
//
// All methods are idempotent and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "proxy/caddy_config.h"

namespace lobster::proxy {

class Proxy {
 public:
  virtual ~Proxy() = default;
  // Adds or replaces the tenant's two routes. kCaddyApiError if Caddy refuses.
  virtual Status add_tenant(const TenantRoute& route) = 0;
  // Removes the tenant's routes; absent routes are not an error.
  virtual Status remove_tenant(const std::string& tenant) = 0;
  // Makes the route set exactly `routes` (reconcile after a restart or drift).
  virtual Status sync(const std::vector<TenantRoute>& routes) = 0;
  // The route ids Caddy is really serving now (asked from Caddy, not from memory).
  virtual Result<std::vector<std::string>> live_route_ids() = 0;
};

}  // namespace lobster::proxy
