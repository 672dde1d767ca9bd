// ApiContext: what endpoint handlers may use. Built once by the daemon (daemon/daemon.cc, the
// only place that wires real implementations); tests build one around a FakeStore.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "core/paths.h"
#include "store/store.h"

namespace lobster::tenant {
class TenantService;
}
namespace lobster::health {
class Watchdog;
}

namespace lobster::api {

struct ApiContext {
  Paths paths;
  Config config;
  store::Store* store = nullptr;  // not owned; outlives the server
  const Clock* clock = nullptr;   // not owned
  pid_t daemon_pid = 0;
  int64_t started_ms = 0;                              // wall clock at daemon start
  int64_t started_monotonic_ms = 0;                    // monotonic clock at daemon start
  nlohmann::json preflight = nlohmann::json::array();  // daemon::preflight_to_json at start
  // Tenant operations; null when the host cannot run tenants (tenants_unavailable says why).
  tenant::TenantService* tenants = nullptr;
  Error tenants_unavailable;
  // The daemon's watchdog (tank shows its FAILED/RECOVERING; molt resets it); null in tests
  // and when tenants are unavailable.
  health::Watchdog* watchdog = nullptr;
};

// The lobsterd version string ("0.1.0"), shared by the CLI and the status endpoint.
std::string_view version();

}  // namespace lobster::api
