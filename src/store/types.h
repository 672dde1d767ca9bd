// Records kept by the store (see store.h): tenants with their allocations, holds, audit events.
//
// These are plain values. The store validates them on write (validate_new_tenant and friends
// below are shared by SqliteStore and FakeStore so both enforce the same contract).
//
//   store::NewTenant t{.name = "alice", .profile = "minimal", .vcpus = 2, .mem_mb = 1024,
//                      .agent_token = token_a, .gateway_token = token_g};
//   store::Tenant created = LOB_TRY(store.create_tenant(t, limits, store::Actor::uid(0)));
//   std::string tap = fmt::format("lt{}", created.alloc.tap_id);  // <= 15 bytes
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::store {

// Lifecycle state of a tenant; stored as text (the name), so the strings are persistent API.
enum class TenantStatus {
  kCreating,    // spawn in progress (intent records the steps done)
  kActive,      // VM running
  kSuspending,  // suspend in progress
  kSuspended,   // VM stopped, snapshot on disk (suspend_info set)
  kResuming,    // resume in progress
  kRemoving,    // evict in progress
  kFailed,      // an operation failed and could not be rolled back; needs repair or evict
};
// "creating", "active", ... (stable: stored in the database and shown by the API).
std::string_view status_name(TenantStatus status);
// Reverse of status_name; kValidationFailed for unknown strings.
Result<TenantStatus> status_from_name(std::string_view name);

// Per-tenant resources handed out by the store, unique across tenants, lowest free first,
// released when the tenant row is deleted.
struct Allocation {
  int64_t subnet_index = 0;  // >= 1; the tenant's /30 is subnetBase + 4 * index
  int64_t jail_uid = 0;      // >= AllocationLimits::uid_start; used as uid and gid
  int64_t tap_id = 0;        // >= 1; TAP name "lt<tap_id>" (<= 15 bytes)
  bool operator==(const Allocation&) const = default;
};

// Bounds for the allocators, derived by the caller from the config.
struct AllocationLimits {
  int64_t max_subnet_index = 0;  // highest usable subnet index (from network.subnetBase); >= 1
  int64_t uid_start = 10000;     // jailer.uidStart
  int64_t uid_count = 65536;     // uids [uid_start, uid_start + uid_count) may be used
};

// Identity of a running VMM, for re-attach after a daemon restart: the pid alone is not enough
// (pid reuse), so the process start time (/proc/<pid>/stat field 22, clock ticks) is kept too.
struct VmProcess {
  int64_t pid = 0;
  int64_t start_time = 0;
  bool operator==(const VmProcess&) const = default;
};

struct Tenant {
  int64_t id = 0;  // store-assigned row id; stable while the tenant exists
  std::string name;
  TenantStatus status = TenantStatus::kCreating;
  std::string profile;  // image profile (minimal | openclaw)
  int64_t vcpus = 0;
  int64_t mem_mb = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<VmProcess> vm;  // set while a VMM process exists
  std::string intent;           // JSON text of the multi-step operation in progress; "" = none
  std::string suspend_info;     // JSON text (spec §3 SuspendInfo); "" = not suspended
  std::string agent_token;      // secret: never log or audit
  std::string gateway_token;    // secret: never log or audit
  Allocation alloc;
  bool operator==(const Tenant&) const = default;
};

// Input of create_tenant. The new tenant starts in `status` (normally kCreating).
struct NewTenant {
  std::string name;  // ^[a-z][a-z0-9_-]*$, 1..63 characters
  std::string profile;
  int64_t vcpus = 0;   // >= 1
  int64_t mem_mb = 0;  // >= 1
  std::string agent_token;
  std::string gateway_token;
  std::string intent;  // "" or a JSON document
  TenantStatus status = TenantStatus::kCreating;
};

// A partial update applied atomically by update_tenant. Unset fields are left alone.
struct TenantUpdate {
  // Compare-and-set guard: when non-empty, the current status must be one of these, else
  // kInvalidState and nothing changes. Use it instead of load-modify-save (spec §16 item 4).
  std::vector<TenantStatus> expect_status;
  std::optional<TenantStatus> status;
  std::optional<VmProcess> vm;              // set the VMM identity
  bool clear_vm = false;                    // forget the VMM identity (wins over `vm`)
  std::optional<std::string> intent;        // "" clears
  std::optional<std::string> suspend_info;  // "" clears
  std::optional<std::string> agent_token;
  std::optional<std::string> gateway_token;
};

// Who asked: "uid:<n>" for a local socket peer, "token:<id>" for a REST bearer token (the id,
// never the token), "daemon" for the daemon's own work (watchdog, reconcile, scheduler).
struct Actor {
  std::string id;
  static Actor uid(uid_t uid);
  static Actor token(std::string_view token_id);
  static Actor daemon();
};

// A lease that keeps a tenant from being auto-suspended (exec, logs, ...) until it expires.
struct Hold {
  std::string tenant;
  std::string hold_id;
  int64_t expires_at_ms = 0;
  bool operator==(const Hold&) const = default;
};

// One row of the audit log. `outcome` is "ok" or an ErrorCode name ("TENANT_EXISTS").
struct AuditEvent {
  int64_t id = 0;       // assigned by the store, increasing
  int64_t time_ms = 0;  // assigned by the store from its clock when 0
  std::string actor;
  std::string operation;  // "tenant.create", "tenant.update", "hold.put", or a caller's name
  std::string tenant;     // may be empty
  std::string outcome = "ok";
  std::string detail;  // free text; never secrets
};
// "ok" for a success, else code_name(error.code).
std::string outcome_of(const Error* error);

// Shared validation (kValidationFailed naming the field) used by every Store implementation.
Status validate_new_tenant(const NewTenant& tenant);
Status validate_limits(const AllocationLimits& limits);
Status validate_update(const TenantUpdate& update);
Status validate_hold(const Hold& hold);
// Human-readable list of the fields an update changes, for the audit detail (no secrets).
std::string describe_update(const TenantUpdate& update);

// kInvalidState naming the wanted states unless `expect` is empty or holds t.status.
Status check_status(const Tenant& t, const std::vector<TenantStatus>& expect);
// The in-memory half of update_tenant, shared by every Store: checks update.expect_status,
// then sets the fields the update carries and updated_at_ms.
Status apply_update(Tenant& t, const TenantUpdate& update, int64_t now_ms);

}  // namespace lobster::store
