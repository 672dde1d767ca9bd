// Per-tenant counters of the ingress (internal; the public view is activity.h).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/clock.h"
#include "ingress/activity.h"
#include "ingress/server.h"

namespace lobster::ingress {

struct IngressServer::Counters {
  std::atomic<int64_t> open_connections{0};
  std::atomic<int64_t> waiting_connections{0};
  std::atomic<int64_t> bytes_to_tenant{0};
  std::atomic<int64_t> bytes_to_client{0};
  std::atomic<int64_t> last_client_activity_ms{0};
  std::atomic<int64_t> connections_total{0};
  std::atomic<int64_t> wakes{0};

  void client_bytes(int64_t n, int64_t now_ms) {
    bytes_to_tenant += n;
    last_client_activity_ms = now_ms;
  }
  TenantActivity snapshot() const {
    return {.open_connections = open_connections,
            .waiting_connections = waiting_connections,
            .bytes_to_tenant = bytes_to_tenant,
            .bytes_to_client = bytes_to_client,
            .last_client_activity_ms = last_client_activity_ms,
            .connections_total = connections_total,
            .wakes = wakes};
  }
};

// Ends the count IngressServer::open_counters() started when the connection goes.
class OpenConnection {
 public:
  explicit OpenConnection(IngressServer::Counters& c) : c_(c) {}
  ~OpenConnection() { --c_.open_connections; }
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;

 private:
  IngressServer::Counters& c_;
};

}  // namespace lobster::ingress
