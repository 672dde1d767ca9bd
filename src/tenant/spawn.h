// spawn: create a tenant end to end (spec §6.3, DESIGN.md "Every multi-step operation is a
// transaction").
//
// The store row is written first (status "creating", allocations taken in the same
// transaction), so a daemon killed at any later point finds the intent on restart and tears
// the tenant down (recover.cc). Each step pushes its undo BEFORE it acts; undos are the
// idempotent teardown pieces, so a step that failed half-way is cleaned up too (spec §16
// item 7). Steps, in order (names are used for progress and fail_after_step_for_test):
//   record, ssh, overlay, config-disk, network, vm, agent, proxy, activate
#pragma once

#include <string>

#include "store/types.h"
#include "tenant/env.h"

namespace lobster::tenant {

struct SpawnRequest {
  std::string name;
  std::string profile;  // "" = config image.defaultProfile
  int64_t vcpus = 0;    // 0 = config default
  int64_t mem_mb = 0;   // 0 = config default
};

struct SpawnResult {
  store::Tenant tenant;
  std::string guest_ip;
  std::string url;  // https://<name>.<domain>
};

// Errors: kValidationFailed, kTenantExists, kResourceExhausted, kImageMissing/kImageCorrupt,
// and the failing step's own code (message prefixed "spawn <name>: step <step>: ").
Result<SpawnResult> spawn(TenantEnv& env, const SpawnRequest& request, const store::Actor& actor,
                          const Progress& progress);

}  // namespace lobster::tenant
