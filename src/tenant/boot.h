// Cold boot of a tenant's VM, shared by spawn and molt's VM repair: start the VMM, record it,
// wait for the guest agent. A guest that dies while booting is booted once more.
//
// Why the second boot: under QEMU TCG with 2 vCPUs the guest kernel very rarely livelocks
// while it patches its own code during boot (seen as "watchdog: BUG: soft lockup - CPU#1
// stuck" in alg_test; 2 of 50 spawns on a busy 2-core host). kGuestCmdline sets
// softlockup_panic=1, so such a guest panics and its VMM exits (panic=1 + -no-reboot) after
// about 20 s instead of hanging until the agent deadline; lobster-init clears the setting once
// the guest is up, so a host stall never panics a running tenant.
#pragma once

#include <memory>
#include <vector>

#include "store/types.h"
#include "tenant/env.h"
#include "vmm/vmm.h"

namespace lobster::tenant {

// Boots in all before giving up, when each one ends with the VMM exiting before its agent.
inline constexpr int kBootAttempts = 2;

// Creates the log and run dirs, starts the VMM for `t` and records its identity in the store
// (`t` is updated). `expect` guards the store update (empty: no guard).
Result<std::unique_ptr<vmm::Vm>> start_vm(TenantEnv& env, store::Tenant& t, const TenantFacts& f,
                                          const store::Actor& actor,
                                          const std::vector<store::TenantStatus>& expect = {});

// Waits up to env.agent_wait_ms for the agent of the just-started `vm`. If the VMM exits
// first, it is cleaned up and a new one started (`vm` and `t` updated), up to kBootAttempts
// boots. A failure's detail carries the last lines of the guest console, which the rollback
// would otherwise delete with the tenant's logs.
Status await_agent(TenantEnv& env, store::Tenant& t, const TenantFacts& f,
                   std::unique_ptr<vmm::Vm>& vm, const store::Actor& actor,
                   const std::vector<store::TenantStatus>& expect = {});

}  // namespace lobster::tenant
