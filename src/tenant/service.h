// TenantService: the daemon's facade over the tenant operations. It serialises operations per
// tenant (a second operation on the same tenant waits for the first), records the latest
// progress line of each running operation so clients can poll it while a long spawn runs, and
// answers read-only queries. The API endpoints are its only callers.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tenant/env.h"
#include "tenant/snap.h"
#include "tenant/spawn.h"
#include "tenant/suspend.h"

namespace lobster::tenant {

// One row of `tank` (spec §11.2; memoryMb is the VM's resident memory, not the gateway's).
struct TankEntry {
  std::string name;
  std::string ip;
  std::string status;  // store status
  std::string vm_pid;  // pid, "dead" or "suspended"
  std::string state;   // HEALTHY | DEGRADED | SUSPENDED | UNKNOWN
  int64_t vcpus = 0;
  int64_t mem_limit_mb = 0;
  std::optional<int64_t> memory_mb;       // VMM resident memory
  std::optional<int64_t> peak_memory_mb;  // the VMM's peak resident memory (headroom vs limit)
  std::vector<std::pair<std::string, std::string>> failed_checks;  // check -> message
};
nlohmann::json to_json(const TankEntry& e);

class TenantService {
 public:
  explicit TenantService(TenantEnv env) : env_(std::move(env)) {}

  Result<SpawnResult> spawn(const SpawnRequest& request, const store::Actor& actor);
  Status evict(const std::string& name, const store::Actor& actor);
  Result<SuspendResult> suspend(const std::string& name, const store::Actor& actor);
  Result<ResumeResult> resume(const std::string& name, const store::Actor& actor);
  Result<SnapResult> snap(const std::string& name, const std::string& out);
  Result<store::Tenant> get(const std::string& name);
  // Last 4000 characters of a guest log, via the agent.
  Result<std::string> logs(const std::string& name, agent::LogService service);
  // Latest progress line of the operation running on `name` ("" if none).
  std::string progress(const std::string& name);

  TenantEnv& env() { return env_; }

  // Runs `op(progress)` under the tenant's operation lock, recording its progress lines like
  // the operations above; for operations built outside this module (health: molt).
  template <typename Fn>
  auto exclusive(const std::string& name, Fn&& op) {
    std::shared_ptr<std::mutex> m = lock_for(name);
    std::lock_guard tenant_lock(*m);
    auto result = op(recorder(name));
    clear_progress(name);
    return result;
  }

 private:
  std::shared_ptr<std::mutex> lock_for(const std::string& name);
  Progress recorder(const std::string& name);
  void clear_progress(const std::string& name);

  TenantEnv env_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
  std::map<std::string, std::string> progress_;
};

}  // namespace lobster::tenant
