// Store: the single source of truth for tenant state (tenants, allocations, holds, audit log).
//
// Owned by the daemon; the tenant lifecycle, health, scheduler and API read and write it. The
// real implementation is SqliteStore (sqlite_store.h: SQLite in WAL mode, one transaction per
// call, safe across processes); testing/fake_store.h holds FakeStore, an in-memory
// implementation of the same contract (store_contract_*_test.cc run both).
//
// Fixes spec §16 items 1-4: every call is one transaction, so there is no load-modify-save;
// allocation happens inside the transaction that inserts the tenant; name uniqueness is a
// database constraint; updates can be guarded by the expected status (compare-and-set).
//
// Every state-changing call appends an audit event in the same transaction. A state-changing
// call refused for a caller-visible reason (kTenantExists, kTenantNotFound, kInvalidState,
// kResourceExhausted, kValidationFailed) is audited with that code as its outcome.
//
//   auto store = LOB_TRY(store::SqliteStore::open(paths.db_file()));  // data_dir must exist
//   store::AllocationLimits limits{.max_subnet_index = 16383, .uid_start = cfg.jailer.uid_start};
//   auto t = LOB_TRY(store->create_tenant(new_tenant, limits, store::Actor::uid(peer_uid)));
//   LOB_TRY(store->update_tenant("alice", {.expect_status = {TenantStatus::kCreating},
//                                          .status = TenantStatus::kActive}, actor));
//
// All methods are thread-safe. Errors not listed for a method: kStoreFailed (SQLite error,
// message carries SQLite's text).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/types.h"

namespace lobster::store {

class Store {
 public:
  virtual ~Store() = default;

  // Inserts a tenant and allocates its subnet index (lowest free >= 1, <= max_subnet_index),
  // jail uid (lowest free >= uid_start) and TAP id (lowest free >= 1) in one transaction.
  // Timestamps come from the store's clock. Returns the stored tenant.
  // Errors: kValidationFailed (bad name, sizes, JSON intent, limits), kTenantExists,
  // kResourceExhausted (no subnet index or uid left; nothing is written).
  virtual Result<Tenant> create_tenant(const NewTenant& tenant, const AllocationLimits& limits,
                                       const Actor& actor) = 0;

  // Errors: kTenantNotFound.
  virtual Result<Tenant> get_tenant(std::string_view name) = 0;

  // Every tenant, ordered by name.
  virtual Result<std::vector<Tenant>> list_tenants() = 0;

  // Applies `update` atomically (see TenantUpdate) and bumps updated_at_ms. Returns the
  // tenant after the update. Errors: kTenantNotFound, kInvalidState (expect_status not met),
  // kValidationFailed (intent or suspend_info not JSON, empty token).
  virtual Result<Tenant> update_tenant(std::string_view name, const TenantUpdate& update,
                                       const Actor& actor) = 0;

  // Deletes the tenant, its holds and its allocations (which become free for reuse, lowest
  // first). When `expect_status` is non-empty the current status must be one of them.
  // Errors: kTenantNotFound, kInvalidState.
  virtual Status delete_tenant(std::string_view name,
                               const std::vector<TenantStatus>& expect_status,
                               const Actor& actor) = 0;

  // Creates the hold or moves its expiry (keepalive). Errors: kTenantNotFound,
  // kValidationFailed (empty hold id).
  virtual Status put_hold(const Hold& hold, const Actor& actor) = 0;

  // Removes a hold. Returns false (and writes nothing) if it did not exist. Idempotent.
  virtual Result<bool> release_hold(std::string_view tenant, std::string_view hold_id,
                                    const Actor& actor) = 0;

  // Holds of `tenant` (all tenants when empty) that have not expired at the store clock's now,
  // ordered by tenant then hold id.
  virtual Result<std::vector<Hold>> list_holds(std::string_view tenant) = 0;

  // Deletes holds whose expiry is <= now. Returns how many were removed (audited when > 0).
  virtual Result<int64_t> prune_expired_holds(const Actor& actor) = 0;

  // Appends an event written by a caller, for outcomes of higher-level operations
  // ("spawn" failed with VM_BOOT_FAILED). id is assigned; time_ms when 0. Returns the id.
  // Errors: kValidationFailed (empty actor or operation).
  virtual Result<int64_t> append_audit(const AuditEvent& event) = 0;

  // The latest `limit` events, newest first; only those of `tenant` when it is non-empty.
  // Errors: kValidationFailed (limit < 1).
  virtual Result<std::vector<AuditEvent>> recent_audit(int64_t limit, std::string_view tenant) = 0;

  // Bounds the audit log: deletes all but the latest `keep_latest` events (the daemon calls
  // this periodically). The pruning itself is then recorded as one event. Returns how many
  // were deleted. Errors: kValidationFailed (keep_latest < 1).
  virtual Result<int64_t> prune_audit(int64_t keep_latest, const Actor& actor) = 0;
};

}  // namespace lobster::store
