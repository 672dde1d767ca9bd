// Per-tenant traffic counters of the ingress: the host's half of idle detection (DESIGN.md
// "Autonomy": idle = no client bytes at the ingress and no work reported by the guest).
//
// The ingress process keeps these counters in memory and serves them on its control socket
// (`GET /v1/activity`, JSON below); the daemon reads them with query_activity() (the daemon's
// scheduler, `lobsterd tank --json` under "ingress", and the health check). Counters start at
// zero when the ingress process starts (`started_ms` says when); a tenant appears once a
// connection for it was routed. Times are wall-clock milliseconds since the Unix epoch.
//
//   auto report = LOB_TRY(ingress::query_activity(paths.ingress_control_socket()));
//   const ingress::TenantActivity* a = report.find("alice");
//   bool idle = a == nullptr || (a->open_connections == 0 &&
//                                now_ms - a->last_client_activity_ms > threshold_ms);
//
// JSON: {"pid":1,"startedMs":..,"domain":"..","tenants":{"alice":{"openConnections":1,
//        "waitingConnections":0,"bytesToTenant":10,"bytesToClient":20,
//        "lastClientActivityMs":..,"connectionsTotal":3,"wakes":1}}}
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace lobster::ingress {

struct TenantActivity {
  int64_t open_connections = 0;         // relaying or waiting for a wake right now
  int64_t waiting_connections = 0;      // of those, held while the tenant wakes
  int64_t bytes_to_tenant = 0;          // client -> tenant, including the replayed head
  int64_t bytes_to_client = 0;          // tenant -> client
  int64_t last_client_activity_ms = 0;  // last connection or client byte; 0 = never
  int64_t connections_total = 0;        // routed connections since the ingress started
  int64_t wakes = 0;                    // resumes this ingress asked the daemon for
  bool operator==(const TenantActivity&) const = default;
};

struct ActivityReport {
  int64_t pid = 0;
  int64_t started_ms = 0;
  std::string domain;
  std::map<std::string, TenantActivity> tenants;

  // The tenant's counters, or nullptr when no connection for it was seen.
  const TenantActivity* find(const std::string& tenant) const;
};

nlohmann::json to_json(const TenantActivity& activity);
nlohmann::json to_json(const ActivityReport& report);
// kProtocolError when `j` is not the shape above.
Result<ActivityReport> activity_from_json(const nlohmann::json& j);

// Asks the ingress listening on `control_socket` for its counters.
// Errors: kIngressUnavailable (no socket, refused, timeout, not a valid answer).
Result<ActivityReport> query_activity(const std::string& control_socket, int timeout_ms = 2000);

// Liveness probe: {"ok":true,"pid":..,"domain":..} from the ingress on `control_socket`.
// Errors: kIngressUnavailable.
Result<nlohmann::json> ping(const std::string& control_socket, int timeout_ms = 2000);

}  // namespace lobster::ingress
