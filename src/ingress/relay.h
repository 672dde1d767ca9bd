// Byte relay between a client and a tenant's gateway (internal to the ingress).
#pragma once

#include <functional>
#include <string_view>

#include "core/error.h"

namespace lobster::ingress {

struct RelayHooks {
  std::function<void(int64_t)> to_tenant;  // bytes moved client -> tenant (client activity)
  std::function<void(int64_t)> to_client;  // bytes moved tenant -> client
};

// Connects a TCP socket to ip:port within timeout_ms. Errors: kGatewayUnavailable.
Result<int> connect_tcp(const std::string& ip, uint16_t port, int64_t timeout_ms);

// Writes `replay` to `upstream` (the head and any bytes read after it), then moves bytes both
// ways until both directions ended (EOF is passed on as a half-close) or either side fails.
// Uses splice(2) through a pipe per direction; falls back to copying when splice refuses.
// Never returns before both sockets are finished with; the caller closes them.
void relay(int client, int upstream, std::string_view replay, const RelayHooks& hooks);

}  // namespace lobster::ingress
