// Health checks of one tenant (spec §8.1, adapted): the checks run concurrently, each
// bounded by its own timeout, and each yields {check, ok|failed, message}. Callers: molt,
// `tank` (GET /v1/tenants) and the watchdog loop, so there is one implementation of them.
//
//   std::vector<CheckResult> r = run_checks(env, tenant);
//   if (!all_ok(r)) { auto plan = plan_repairs(r); ... }   // repairs.h
//
// Checks, in order (kCheckOrder):
//   vm.process       the recorded VMM is alive AND is ours (pidfd + start time + /proc exe via
//                    the VMM driver's attach; a recycled pid fails, spec §16 item 9)
//   vm.responsive    health-ping on the agent's health port (5 s)
//   net.tap          the TAP exists (rtnetlink), is up and has the host address
//   net.gateway      get-stats reports a gateway pid (3 s; not a TCP probe of the gateway,
//                    which would count as a client)
//   gateway.config   the OpenClaw settings lobsterd manages (proxy trust, control UI origin,
//                    auth; tenant/guest_config.h), as recorded on the tenant's config disk,
//                    match what the current lobsterd and config derive: a tenant made by an
//                    older lobsterd (or before openclaw.defaultConfig changed) fails it
//   net.caddy-route  Caddy serves both lobster-<name> and lobster-<name>-ws (asked live)
// A suspended tenant has no VM to check: every check reports ok "Skipped: suspended".
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "store/types.h"
#include "tenant/env.h"

namespace lobster::health {

inline constexpr std::string_view kVmProcess = "vm.process";
inline constexpr std::string_view kVmResponsive = "vm.responsive";
inline constexpr std::string_view kNetTap = "net.tap";
inline constexpr std::string_view kNetGateway = "net.gateway";
inline constexpr std::string_view kGatewayConfig = "gateway.config";
inline constexpr std::string_view kNetCaddyRoute = "net.caddy-route";
inline constexpr std::array<std::string_view, 6> kCheckOrder = {
    kVmProcess, kVmResponsive, kNetTap, kNetGateway, kGatewayConfig, kNetCaddyRoute};

struct CheckResult {
  std::string check;  // one of kCheckOrder
  bool ok = false;
  std::string message;
  bool operator==(const CheckResult&) const = default;
};

// {"check", "status": "ok"|"failed", "message"} (spec §10 MoltResult check shape).
nlohmann::json to_json(const CheckResult& c);

// True if every check passed (an empty list is not healthy: nothing was checked).
bool all_ok(const std::vector<CheckResult>& results);

// Names of the failed checks, in check order.
std::vector<std::string> failed_checks(const std::vector<CheckResult>& results);

// Runs the checks concurrently and returns them in kCheckOrder. Never fails: a check
// that cannot run (bad allocation, unreachable agent, Caddy down) is reported as failed with
// the reason. Bounded by the slowest timeout (health-ping, 5 s) plus local netlink calls.
std::vector<CheckResult> run_checks(tenant::TenantEnv& env, const store::Tenant& tenant);

}  // namespace lobster::health
