#include "health/repairs.h"

#include <algorithm>
#include <functional>

#include "core/fs.h"
#include "core/log.h"
#include "host/firewall/tenant_network.h"
#include "image/config_disk.h"
#include "proxy/caddy_config.h"
#include "tenant/boot.h"
#include "tenant/guest_config.h"
#include "tenant/teardown.h"

namespace lobster::health {
namespace {

using Actions = std::vector<std::string>;

Status recreate_network(tenant::TenantEnv& env, const store::Tenant& t,
                        const tenant::TenantFacts& f, Actions& actions) {
  std::lock_guard net_lock(tenant::network_mutex());
  LOB_TRY(env.firewall->ensure_base());
  auto r = LOB_TRY(firewall::setup_tenant_network(*env.links, *env.firewall,
                                                  {.net = f.net,
                                                   .uid = static_cast<uid_t>(t.alloc.jail_uid),
                                                   .gid = static_cast<gid_t>(t.alloc.jail_uid)}));
  actions.push_back(r.created ? "Created TAP " + f.tap
                              : (r.changed ? "Restored TAP " + f.tap + " settings"
                                           : "TAP " + f.tap + " already present"));
  actions.push_back("Applied NAT, isolation and lockdown rules");
  return ok();
}

Status restart_vm(tenant::TenantEnv& env, const store::Tenant& t, const tenant::TenantFacts& f,
                  const store::Actor& actor, Actions& actions) {
  const std::vector<store::TenantStatus> repairable = {store::TenantStatus::kActive,
                                                       store::TenantStatus::kFailed};
  // Stops the recorded VMM (identity-checked) and anything else in the tenant's cgroup; never
  // a name pattern (spec §16 item 8).
  LOB_TRY(tenant::stop_vm(env, t, f, 0));
  LOB_TRY(env.store->update_tenant(t.name, {.expect_status = repairable, .clear_vm = true}, actor));
  actions.push_back("Stopped the old VMM");
  store::Tenant booted = t;
  auto vm = LOB_TRY(tenant::start_vm(env, booted, f, actor, repairable));
  actions.push_back(
      fmt::format("Cold-booted the VM from its overlay (pid {})", vm->identity().pid));
  LOB_TRY(tenant::await_agent(env, booted, f, vm, actor, repairable));
  agent::AgentClient agent = tenant::agent_for(env, t, f);
  actions.push_back("Agent is up");
  // The config disk already carries the secrets; re-inject the gateway token as the original
  // did so a gateway started from an older config still gets the current one.
  LOB_TRY(agent.inject_secrets({{"OPENCLAW_GATEWAY_TOKEN", t.gateway_token}}));
  actions.push_back("Re-injected the gateway token");
  if (Status s = agent.set_time(env.clock->now_ms()); s) {
    actions.push_back("Set the guest clock");
  } else {
    actions.push_back("Guest clock not set: " + s.error().message);
  }
  return ok();
}

Status ensure_gateway(tenant::TenantEnv& env, const store::Tenant& t, const tenant::TenantFacts& f,
                      Actions& actions) {
  auto g = tenant::agent_for(env, t, f).ensure_gateway();
  if (!g) {
    Error e = g.error();
    e.message = "Failed to ensure gateway (the VM may need a full restart): " + e.message;
    return make_error(std::move(e));
  }
  actions.push_back(g->launched ? fmt::format("Launched the gateway (pid {})", g->pid)
                                : "Gateway was already running");
  return ok();
}

Status sync_gateway_config(tenant::TenantEnv& env, const store::Tenant& t,
                           const tenant::TenantFacts& f, Actions& actions) {
  std::string raw = LOB_TRY(fs::read_file(f.files.config_disk));
  image::ConfigDisk disk = LOB_TRY(image::decode_config_disk(raw));
  disk.openclaw_config = tenant::tenant_openclaw_config(env.config, t.name, t.gateway_token,
                                                        f.subnet.host.to_string());
  LOB_TRY(image::write_config_disk(f.files.config_disk, disk));
  actions.push_back("Rewrote the OpenClaw settings on the config disk");
  LOB_TRY(tenant::agent_for(env, t, f).inject_secrets(
      {{"OPENCLAW_CONFIG", disk.openclaw_config.dump()}}));
  actions.push_back("Merged them into the running guest's openclaw.json");
  return ok();
}

Status readd_routes(tenant::TenantEnv& env, const store::Tenant& t, const tenant::TenantFacts& f,
                    Actions& actions) {
  // add_tenant replaces both routes as one change, so a half-present pair is fixed too.
  LOB_TRY(env.proxy->add_tenant({t.name, f.subnet.guest.to_string() + ":9000"}));
  actions.push_back("Re-added routes " + proxy::route_id(t.name) + " and " +
                    proxy::ws_route_id(t.name));
  return ok();
}

}  // namespace

std::string_view repair_name(RepairKind kind) {
  switch (kind) {
    case RepairKind::kRecreateNetwork:
      return "net.recreate-tap";
    case RepairKind::kRestartVm:
      return "vm.restart";
    case RepairKind::kEnsureGateway:
      return "gateway.ensure";
    case RepairKind::kSyncGatewayConfig:
      return "gateway.sync-config";
    case RepairKind::kReaddRoutes:
      return "proxy.readd-routes";
  }
  return "unknown";
}

nlohmann::json to_json(const RepairResult& r) {
  return {{"repair", r.repair}, {"fixed", r.fixed}, {"actions", r.actions}};
}

std::vector<RepairKind> plan_repairs(const std::vector<CheckResult>& checks) {
  auto failed = [&](std::string_view name) {
    return std::any_of(checks.begin(), checks.end(),
                       [&](const CheckResult& c) { return c.check == name && !c.ok; });
  };
  std::vector<RepairKind> plan;
  if (failed(kNetTap))
    plan.push_back(RepairKind::kRecreateNetwork);
  if (failed(kNetTap) || failed(kVmProcess))
    plan.push_back(RepairKind::kRestartVm);
  if (failed(kVmResponsive) || failed(kNetGateway))
    plan.push_back(RepairKind::kEnsureGateway);
  if (failed(kGatewayConfig))
    plan.push_back(RepairKind::kSyncGatewayConfig);
  if (failed(kNetCaddyRoute))
    plan.push_back(RepairKind::kReaddRoutes);
  return plan;
}

std::vector<RepairResult> run_repairs(tenant::TenantEnv& env, const store::Tenant& t,
                                      const std::vector<RepairKind>& plan,
                                      const store::Actor& actor, const tenant::Progress& progress) {
  std::vector<RepairResult> out;
  auto facts = tenant::facts_for(env, t);
  for (RepairKind kind : plan) {
    RepairResult r{std::string(repair_name(kind)), false, {}};
    if (progress)
      progress("repair", r.repair);
    Status s = ok();
    if (!facts) {
      s = make_error(facts.error());
    } else {
      switch (kind) {
        case RepairKind::kRecreateNetwork:
          s = recreate_network(env, t, *facts, r.actions);
          break;
        case RepairKind::kRestartVm:
          s = restart_vm(env, t, *facts, actor, r.actions);
          break;
        case RepairKind::kEnsureGateway:
          s = ensure_gateway(env, t, *facts, r.actions);
          break;
        case RepairKind::kSyncGatewayConfig:
          s = sync_gateway_config(env, t, *facts, r.actions);
          break;
        case RepairKind::kReaddRoutes:
          s = readd_routes(env, t, *facts, r.actions);
          break;
      }
    }
    r.fixed = s.has_value();
    if (!s) {
      r.actions.push_back("error: " + s.error().message);
      log::warn("health.repair_failed", {{"tenant", t.name},
                                         {"repair", r.repair},
                                         {"code", code_name(s.error().code)},
                                         {"error", s.error().message}});
    } else {
      log::info("health.repaired", {{"tenant", t.name}, {"repair", r.repair}});
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace lobster::health
