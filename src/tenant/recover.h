// Crash recovery at daemon start: every tenant whose row says an operation was in progress
// (the store records intent before any effect) is driven to a clean end state. Spawns and
// evicts that never finished are torn down completely (zero residue); suspends and resumes
// that never finished are marked "failed" (the VMM may be paused mid-migration or half
// restored: no automatic end state is safe), which molt repairs and evict removes. The caller
// then reconciles firewall rules and proxy routes for the tenants that remain.
#pragma once

#include <vector>

#include "tenant/env.h"

namespace lobster::tenant {

struct RecoveryReport {
  std::vector<std::string> removed;        // unfinished spawns/evicts torn down
  std::vector<std::string> marked_failed;  // unfinished suspends/resumes, now "failed"
  std::vector<std::string> failed;         // could not be repaired ("name: error")
};

Result<RecoveryReport> recover(TenantEnv& env);

}  // namespace lobster::tenant
