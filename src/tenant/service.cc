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
  if (e.peak_memory_mb)
    j["peakMemoryMb"] = *e.peak_memory_mb;
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

void TenantService::clear_progress(const std::string& name) {
  std::lock_guard lock(mu_);
  progress_.erase(name);
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

Result<ResumeResult> TenantService::resume(const std::string& name, const store::Actor& actor) {
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

}  // namespace lobster::tenant
