// Row <-> record helpers shared by the SqliteStore translation units (internal to src/store/).
#pragma once

#include <string_view>

#include "core/error.h"
#include "store/sqlite_db.h"
#include "store/types.h"

namespace lobster::store {

// Selects every tenant column in the order read_tenant() expects; append WHERE / ORDER BY.
inline constexpr std::string_view kSelectTenant =
    "SELECT t.id, t.name, t.status, t.profile, t.vcpus, t.mem_mb, t.created_at_ms, "
    "t.updated_at_ms, t.vm_pid, t.vm_start_time, t.intent, t.suspend_info, t.agent_token, "
    "t.gateway_token, a.subnet_index, a.jail_uid, a.tap_id "
    "FROM tenants t LEFT JOIN allocations a ON a.tenant_id = t.id ";

// Decodes the current row of a kSelectTenant statement. kStoreFailed for an unknown status.
Result<Tenant> read_tenant(const Stmt& stmt);

}  // namespace lobster::store
