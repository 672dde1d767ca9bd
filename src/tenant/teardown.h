// Idempotent removal of every trace of a tenant. Shared by evict, spawn's rollback steps and
// the daemon's start-up reconcile (a crash mid-spawn or mid-evict ends in a full teardown), so
// each piece checks before it acts and a missing object is success.
#pragma once

#include "store/types.h"
#include "tenant/env.h"

namespace lobster::tenant {

// Each returns the first error but keeps going where that is safe; all are idempotent.
Status stop_vm(TenantEnv& env, const store::Tenant& t, const TenantFacts& f, int64_t graceful_ms);
Status remove_network(TenantEnv& env, const TenantFacts& f);
Status remove_files(const TenantFacts& f);

// Everything above, then the store row. Used by evict and crash recovery.
Status teardown(TenantEnv& env, const store::Tenant& t, const store::Actor& actor,
                const Progress& progress);

}  // namespace lobster::tenant
