// Proxy: the HTTPS front door, Caddy (static config, caddy_config.h) in front of lobsterd's
// ingress process (src/ingress). Tenants need no per-tenant routes: the ingress maps
// `<name>.<domain>` to the tenant from the store. Tenant operations only make sure the front
// door runs (spawn), health checks ask whether it answers, and the daemon reads the
// ingress's per-tenant activity counters through it.
//
//   LOB_TRY(proxy->ensure_running());
//   auto report = LOB_TRY(proxy->activity());
//
// All methods are thread-safe.
#pragma once

#include "core/error.h"
#include "ingress/activity.h"

namespace lobster::proxy {

class Proxy {
 public:
  virtual ~Proxy() = default;
  // Starts (or adopts) Caddy and the ingress unless they run. Idempotent.
  // Errors: kCaddyApiError, kIngressUnavailable.
  virtual Status ensure_running() = 0;
  // Both processes run and answer (Caddy's admin socket, the ingress's ping).
  // Errors: kCaddyApiError, kIngressUnavailable.
  virtual Status check() = 0;
  // The ingress's per-tenant counters (ingress/activity.h); an empty report while the front
  // door has not been started. Errors: kIngressUnavailable.
  virtual Result<ingress::ActivityReport> activity() = 0;
};

}  // namespace lobster::proxy
