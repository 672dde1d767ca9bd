#include "health/checks.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <future>
#include <mutex>

#include "core/fs.h"
#include "image/config_disk.h"
#include "proxy/caddy_config.h"
#include "tenant/guest_config.h"

namespace lobster::health {
namespace {

CheckResult pass(std::string_view check, std::string message) {
  return {std::string(check), true, std::move(message)};
}
CheckResult fail(std::string_view check, std::string message) {
  return {std::string(check), false, std::move(message)};
}

CheckResult check_vm_process(tenant::TenantEnv& env, const store::Tenant& t,
                             const tenant::TenantFacts& f) {
  if (!t.vm)
    return fail(kVmProcess, "No VM process recorded");
  // attach() verifies pid, start time and executable, so a recycled pid is not "alive".
  auto vm = tenant::attach_vm(env, t, f);
  if (!vm)
    return fail(kVmProcess,
                fmt::format("VM process {} is dead: {}", t.vm->pid, vm.error().message));
  auto state = (*vm)->state();
  if (state && *state == vmm::VmState::kExited)
    return fail(kVmProcess, fmt::format("VM process {} has exited", t.vm->pid));
  if (state && *state == vmm::VmState::kPaused)
    return fail(kVmProcess, fmt::format("VM process {} is paused", t.vm->pid));
  return pass(kVmProcess, fmt::format("VM process {} is running", t.vm->pid));
}

CheckResult check_responsive(const agent::AgentClient& agent) {
  Status s = agent.health_ping(agent::kHealthTimeoutMs);
  if (!s)
    return fail(kVmResponsive, "Agent did not answer health-ping: " + s.error().message);
  return pass(kVmResponsive, "Agent answered PONG");
}

CheckResult check_tap(tenant::TenantEnv& env, const tenant::TenantFacts& f) {
  // RtnlLinks shares one netlink socket; every TAP change already runs under this mutex.
  std::lock_guard net_lock(tenant::network_mutex());
  auto link = env.links->get_link(f.tap);
  if (!link)
    return fail(kNetTap, fmt::format("TAP {} unreadable: {}", f.tap, link.error().message));
  if (!link->has_value())
    return fail(kNetTap, fmt::format("TAP {} does not exist", f.tap));
  const net::LinkInfo& info = **link;
  if (!info.up)
    return fail(kNetTap, fmt::format("TAP {} is down", f.tap));
  bool addressed = std::any_of(info.addresses.begin(), info.addresses.end(),
                               [&](const auto& a) { return a.first == f.subnet.host; });
  if (!addressed) {
    return fail(kNetTap,
                fmt::format("TAP {} lacks its address {}", f.tap, f.subnet.host.to_string()));
  }
  return pass(kNetTap, fmt::format("TAP {} is up", f.tap));
}

CheckResult check_gateway(const agent::AgentClient& agent) {
  auto stats = agent.get_stats(agent::kShortTimeoutMs);
  if (!stats)
    return fail(kNetGateway, "get-stats failed: " + stats.error().message);
  if (!stats->gateway_pid)
    return fail(kNetGateway, "Gateway is not running");
  return pass(kNetGateway, fmt::format("Gateway running (pid {})", *stats->gateway_pid));
}

CheckResult check_gateway_config(tenant::TenantEnv& env, const store::Tenant& t,
                                 const tenant::TenantFacts& f) {
  auto raw = fs::read_file(f.files.config_disk);
  if (!raw)
    return fail(kGatewayConfig, "Config disk unreadable: " + raw.error().message);
  auto disk = image::decode_config_disk(*raw);
  if (!disk)
    return fail(kGatewayConfig, "Config disk damaged: " + disk.error().message);
  if (disk->openclaw_config != tenant::tenant_openclaw_config(env.config, t.name, t.gateway_token,
                                                              f.subnet.host.to_string())) {
    return fail(kGatewayConfig,
                "OpenClaw settings are outdated (proxy trust, control UI origin or auth differ "
                "from what this lobsterd and its config derive)");
  }
  return pass(kGatewayConfig, "OpenClaw settings current");
}

CheckResult check_routes(tenant::TenantEnv& env, const store::Tenant& t) {
  auto ids = env.proxy->live_route_ids();
  if (!ids)
    return fail(kNetCaddyRoute, "Cannot list Caddy routes: " + ids.error().message);
  std::vector<std::string> missing;
  for (const std::string& want : {proxy::route_id(t.name), proxy::ws_route_id(t.name)}) {
    if (std::find(ids->begin(), ids->end(), want) == ids->end())
      missing.push_back(want);
  }
  if (!missing.empty())
    return fail(kNetCaddyRoute, fmt::format("Missing route(s): {}", fmt::join(missing, ", ")));
  return pass(kNetCaddyRoute, "HTTP and WebSocket routes present");
}

}  // namespace

nlohmann::json to_json(const CheckResult& c) {
  return {{"check", c.check}, {"status", c.ok ? "ok" : "failed"}, {"message", c.message}};
}

bool all_ok(const std::vector<CheckResult>& results) {
  return !results.empty() &&
         std::all_of(results.begin(), results.end(), [](const auto& r) { return r.ok; });
}

std::vector<std::string> failed_checks(const std::vector<CheckResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) {
    if (!r.ok)
      out.push_back(r.check);
  }
  return out;
}

std::vector<CheckResult> run_checks(tenant::TenantEnv& env, const store::Tenant& t) {
  std::vector<CheckResult> out;
  if (t.status == store::TenantStatus::kSuspended) {
    for (std::string_view c : kCheckOrder) out.push_back(pass(c, "Skipped: tenant is suspended"));
    return out;
  }
  auto facts = tenant::facts_for(env, t);
  if (!facts) {
    for (std::string_view c : kCheckOrder) {
      out.push_back(fail(c, "Cannot derive the tenant's network: " + facts.error().message));
    }
    return out;
  }
  const tenant::TenantFacts& f = *facts;
  const agent::AgentClient agent = tenant::agent_for(env, t, f);
  // Each check is bounded by its own timeout; together they take as long as the slowest.
  auto process = std::async(std::launch::async, [&] { return check_vm_process(env, t, f); });
  auto responsive = std::async(std::launch::async, [&] { return check_responsive(agent); });
  auto tap = std::async(std::launch::async, [&] { return check_tap(env, f); });
  auto gateway = std::async(std::launch::async, [&] { return check_gateway(agent); });
  CheckResult routes = check_routes(env, t);
  CheckResult config = check_gateway_config(env, t, f);
  out.push_back(process.get());
  out.push_back(responsive.get());
  out.push_back(tap.get());
  out.push_back(gateway.get());
  out.push_back(std::move(config));
  out.push_back(std::move(routes));
  return out;
}

}  // namespace lobster::health
