#include "tenant/service.h"

#include "core/log.h"
#include "tenant/evict.h"

namespace lobster::tenant {

nlohmann::json to_json(const TankEntry& e) {
  nlohmann::json j = {
      {"name", e.name},   {"ip", e.ip},       {"status", e.status},          {"vmPid", e.vm_pid},
      {"state", e.state}, {"vcpus", e.vcpus}, {"memLimitMb", e.mem_limit_mb}};
  if (e.memory_mb)
    j["memoryMb"] = *e.memory_mb;
  nlohmann::json failed = nlohmann::json::object();
  for (const auto& [check, message] : e.failed_checks) failed[check] = message;
  j["failedChecks"] = failed;
  return j;
}

std::shared_ptr<std::mutex> TenantService::lock_for(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& m = locks_[name];
  if (!m)
    m = std::make_shared<std::mutex>();
  return m;
}

Progress TenantService::recorder(const std::string& name) {
  return [this, name](std::string_view step, std::string_view detail) {
    std::lock_guard lock(mu_);
    progress_[name] = fmt::format("[{}] {}", step, detail);
    log::info("tenant.progress", {{"tenant", name}, {"step", step}, {"detail", detail}});
  };
}

std::string TenantService::progress(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = progress_.find(name);
  return it == progress_.end() ? std::string() : it->second;
}

namespace {
// Runs `op` under the tenant's lock and clears its progress line afterwards.
template <typename Fn>
auto locked(std::shared_ptr<std::mutex> m, std::mutex& mu, std::map<std::string, std::string>& p,
            const std::string& name, Fn&& op) {
  std::lock_guard tenant_lock(*m);
  auto result = op();
  std::lock_guard lock(mu);
  p.erase(name);
  return result;
}
}  // namespace

Result<SpawnResult> TenantService::spawn(const SpawnRequest& request, const store::Actor& actor) {
  return locked(lock_for(request.name), mu_, progress_, request.name,
                [&] { return tenant::spawn(env_, request, actor, recorder(request.name)); });
}

Status TenantService::evict(const std::string& name, const store::Actor& actor) {
  return locked(lock_for(name), mu_, progress_, name,
                [&] { return tenant::evict(env_, name, actor, recorder(name)); });
}

Result<SuspendResult> TenantService::suspend(const std::string& name, const store::Actor& actor) {
  return locked(lock_for(name), mu_, progress_, name,
                [&] { return tenant::suspend(env_, name, actor, recorder(name)); });
}

Result<store::Tenant> TenantService::resume(const std::string& name, const store::Actor& actor) {
  return locked(lock_for(name), mu_, progress_, name,
                [&] { return tenant::resume(env_, name, actor, recorder(name)); });
}

Result<SnapResult> TenantService::snap(const std::string& name, const std::string& out) {
  return locked(lock_for(name), mu_, progress_, name,
                [&] { return tenant::snap(env_, name, out); });
}

Result<store::Tenant> TenantService::get(const std::string& name) {
  return env_.store->get_tenant(name);
}

Result<std::string> TenantService::logs(const std::string& name, agent::LogService service) {
  store::Tenant t = LOB_TRY(env_.store->get_tenant(name));
  if (t.status != store::TenantStatus::kActive) {
    return make_error(ErrorCode::kInvalidState, "tenant \"{}\" is {}; resume it to read its logs",
                      name, store::status_name(t.status));
  }
  TenantFacts f = LOB_TRY(facts_for(env_, t));
  return agent_for(env_, t, f).get_logs(service);
}

TankEntry TenantService::check(const store::Tenant& t) {
  TankEntry e;
  e.name = t.name;
  e.status = std::string(store::status_name(t.status));
  e.vcpus = t.vcpus;
  e.mem_limit_mb = t.mem_mb;
  auto f = facts_for(env_, t);
  if (!f) {
    e.state = "UNKNOWN";
    return e;
  }
  e.ip = f->subnet.guest.to_string();
  if (t.status == store::TenantStatus::kSuspended) {
    e.vm_pid = "suspended";
    e.state = "SUSPENDED";
    return e;
  }
  auto fail = [&](const char* check, std::string message) {
    e.failed_checks.emplace_back(check, std::move(message));
  };
  e.vm_pid = "dead";
  if (t.vm) {
    auto vm = attach_vm(env_, t, *f);
    if (vm) {
      e.vm_pid = std::to_string(t.vm->pid);
      if (auto stats = (*vm)->stats(); stats)
        e.memory_mb = stats->rss_bytes >> 20;
    } else {
      fail("vm.process", vm.error().message);
    }
  } else {
    fail("vm.process", "no VMM recorded");
  }
  if (Status s = agent_for(env_, t, *f).health_ping(); !s) {
    fail("vm.responsive", s.error().message);
  }
  auto link = env_.links->get_link(f->tap);
  if (!link || !link->has_value())
    fail("net.tap", "TAP " + f->tap + " missing");
  auto routes = env_.proxy->live_route_ids();
  bool routed = false;
  if (routes) {
    for (const auto& id : *routes) routed = routed || id == "lobster-" + t.name;
  }
  if (!routed)
    fail("net.caddy-route", "no route for " + t.name);
  e.state = t.status != store::TenantStatus::kActive ? "UNKNOWN"
            : e.failed_checks.empty()                ? "HEALTHY"
                                                     : "DEGRADED";
  return e;
}

Result<std::vector<TankEntry>> TenantService::tank() {
  auto tenants = LOB_TRY(env_.store->list_tenants());
  std::vector<TankEntry> out;
  out.reserve(tenants.size());
  for (const auto& t : tenants) out.push_back(check(t));
  return out;
}

}  // namespace lobster::tenant
