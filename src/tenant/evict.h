// evict: remove a tenant and everything it owns (spec §6.4). The status flips to "removing"
// first (compare-and-set), so a daemon killed mid-evict finishes the job on restart
// (recover.h). Allowed from active, suspended, failed and removing (a retry).
#pragma once

#include <string>

#include "store/types.h"
#include "tenant/env.h"

namespace lobster::tenant {

// Errors: kTenantNotFound, kInvalidState (a spawn/suspend/resume is in progress), and the
// failing teardown step's code (the tenant then stays "removing"; evict again to retry).
Status evict(TenantEnv& env, const std::string& name, const store::Actor& actor,
             const Progress& progress);

}  // namespace lobster::tenant
