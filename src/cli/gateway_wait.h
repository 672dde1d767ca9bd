// Waiting until a tenant's gateway answers through Caddy, as its users will reach it. Used by
// `demo` and by `spawn` of an openclaw tenant: under QEMU TCG OpenClaw needs minutes after its
// VM is up, and a spawn that returned "success" while the gateway never came up told the
// operator nothing (issue 21).
#pragma once

#include <string>

#include "cli/command.h"

namespace lobster::cli {

struct GatewayRoute {
  std::string host;     // <name>.<domain>
  std::string ca_file;  // Caddy's internal CA (for local domains)
};

// The tenant's route as this daemon serves it (asks GET /v1/status for the domain).
Result<GatewayRoute> gateway_route(const CliContext& ctx, const std::string& name);

// Polls https://<host>/health through Caddy every 3 s until it answers 200, up to
// `max_minutes`; every 30 s prints how long it has waited and the gateway's latest log line.
// Returns the seconds waited. On timeout: kExecTimeout naming the tenant, with the gateway's
// last log lines as detail and a hint that the tenant keeps running.
Result<int64_t> wait_for_gateway(const CliContext& ctx, const std::string& name,
                                 const GatewayRoute& route, int max_minutes);

}  // namespace lobster::cli
