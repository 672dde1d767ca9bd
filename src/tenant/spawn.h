// spawn: create a tenant end to end (spec §6.3, DESIGN.md "Every multi-step operation is a
// transaction").
//
// The store row is written first (status "creating", allocations taken in the same
// transaction), so a daemon killed at any later point finds the intent on restart and tears
// the tenant down (recover.cc). Each step pushes its undo BEFORE it acts; undos are the
// idempotent teardown pieces, so a step that failed half-way is cleaned up too (spec §16
// item 7). Steps, in order: kSpawnSteps (names are used for progress, error messages and
// fail_after_step_for_test, which the daemon sets from LOBSTERD_TEST_FAIL_STEP).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "store/types.h"
#include "tenant/env.h"
#include "tenant/phases.h"

namespace lobster::tenant {

// Every spawn step, in the order spawn() runs them. spawn() aborts if it ever runs a step not
// listed here at its position, so tests can iterate this list without keeping a copy.
inline constexpr std::array<std::string_view, 9> kSpawnSteps = {
    "record", "ssh", "overlay", "config-disk", "network", "vm", "agent", "proxy", "activate"};

// True if `step` names a spawn step.
bool is_spawn_step(std::string_view step);

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
  // Duration of each step in order: "image" (name check and image verification), then
  // kSpawnSteps. Guest boot-to-agent is "vm" + "agent"; the rest is control-plane work.
  std::vector<Phase> phases;
};

// Errors: kValidationFailed, kTenantExists, kResourceExhausted, kImageMissing/kImageCorrupt,
// and the failing step's own code (message prefixed "spawn <name>: step <step>: "). With
// env.fail_after_step_for_test set to a step, that step takes effect and then spawn fails with
// kInternal "injected failure after step <step> (test switch)", unwinding like a real failure.
Result<SpawnResult> spawn(TenantEnv& env, const SpawnRequest& request, const store::Actor& actor,
                          const Progress& progress);

}  // namespace lobster::tenant
