// Repairs of one tenant (spec §8.2, adapted): failed checks map to repairs, deduplicated and
// run one after another; a repair's error becomes fixed:false with the reason among its
// actions, and the next repair still runs. Callers: molt and the watchdog loop.
//
//   auto plan = plan_repairs(checks);                       // pure
//   auto done = run_repairs(env, tenant, plan, actor, progress);
//
// Mapping and order. Repairs run in dependency order, which differs from check order in one
// place on purpose: the network comes before the VM, because QEMU opens the TAP by name at
// start, so a VM restart with the TAP missing can only fail (the original's first repair
// round failed that way, spec §16 item 11).
//   net.tap                        -> kRecreateNetwork: TAP AND the tenant's complete rule set
//                                     (NAT, isolation and lockdown, which the original forgot),
//                                     then kRestartVm as well: a re-created TAP is a new device
//                                     and the running VMM still holds the old one (§16 item 12)
//   vm.process                     -> kRestartVm: cold boot from the tenant's existing overlay
//                                     and config disk, then re-inject the gateway token and
//                                     set the guest clock
//   vm.responsive, net.gateway     -> kEnsureGateway: the agent's ensure-gateway
//   gateway.config                 -> kSyncGatewayConfig: rewrite the managed OpenClaw settings
//                                     on the config disk (for every later boot) and push them
//                                     to the running guest, which merges them into its
//                                     openclaw.json; OpenClaw applies proxy trust and origins
//                                     live (after a VM restart, so the fresh guest gets them too)
//   net.caddy-route                -> kReaddRoutes: add (replace) both routes
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "health/checks.h"
#include "store/types.h"
#include "tenant/env.h"

namespace lobster::health {

enum class RepairKind {
  kRecreateNetwork,
  kRestartVm,
  kEnsureGateway,
  kSyncGatewayConfig,
  kReaddRoutes
};

// Stable names: "net.recreate-tap", "vm.restart", "gateway.ensure", "gateway.sync-config",
// "proxy.readd-routes".
std::string_view repair_name(RepairKind kind);

struct RepairResult {
  std::string repair;  // repair_name()
  bool fixed = false;
  std::vector<std::string> actions;  // what was done, in order; the error last when !fixed
};

// {"repair", "fixed", "actions": [...]} (spec §10).
nlohmann::json to_json(const RepairResult& r);

// Pure: the deduplicated repairs for the failed checks, in the order above.
std::vector<RepairKind> plan_repairs(const std::vector<CheckResult>& checks);

// Runs `plan` against `tenant` (as loaded before the checks). The caller holds the tenant's
// operation lock. Progress reports each repair as ("repair", "<name>").
std::vector<RepairResult> run_repairs(tenant::TenantEnv& env, const store::Tenant& tenant,
                                      const std::vector<RepairKind>& plan,
                                      const store::Actor& actor, const tenant::Progress& progress);

}  // namespace lobster::health
