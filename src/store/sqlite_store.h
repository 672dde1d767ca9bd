// SqliteStore: the Store (store.h) on SQLite in WAL mode.
//
// One database file (0600, root-only: it holds the tenants' tokens), shared safely by several
// processes: writes use BEGIN IMMEDIATE and a busy timeout, so concurrent writers queue instead
// of failing with SQLITE_BUSY. The schema is versioned by PRAGMA user_version and migrated on
// open by the ordered steps in schema.h. Foreign keys are on.
//
//   auto store = LOB_TRY(store::SqliteStore::open(root + "/state/lobsterd.db"));
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace lobster::store {

class SqliteStore final : public Store {
 public:
  // Opens (creating if missing, mode 0600) and migrates the database at `path`. The clock
  // stamps created/updated/audit times and decides hold expiry; it must outlive the store.
  // Errors: kStoreFailed (cannot open, not a database, schema newer than this binary).
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, const Clock& clock);

  Result<Tenant> create_tenant(const NewTenant& tenant, const AllocationLimits& limits,
                               const Actor& actor) override;
  Result<Tenant> get_tenant(std::string_view name) override;
  Result<std::vector<Tenant>> list_tenants() override;
  Result<Tenant> update_tenant(std::string_view name, const TenantUpdate& update,
                               const Actor& actor) override;
  Status delete_tenant(std::string_view name, const std::vector<TenantStatus>& expect_status,
                       const Actor& actor) override;
  Status put_hold(const Hold& hold, const Actor& actor) override;
  Result<bool> release_hold(std::string_view tenant, std::string_view hold_id,
                            const Actor& actor) override;
  Result<std::vector<Hold>> list_holds(std::string_view tenant) override;
  Result<int64_t> prune_expired_holds(const Actor& actor) override;
  Result<int64_t> append_audit(const AuditEvent& event) override;
  Result<std::vector<AuditEvent>> recent_audit(int64_t limit, std::string_view tenant) override;
  Result<int64_t> prune_audit(int64_t keep_latest, const Actor& actor) override;

  // The schema version of the open database (PRAGMA user_version).
  Result<int64_t> schema_version();
  // PRAGMA integrity_check's answer ("ok" when healthy).
  Result<std::string> integrity_check();

  // Called inside every write transaction just before COMMIT (crash tests: the hook blocks
  // until the test kills the process). Pass nullptr to remove.
  void set_before_commit_hook_for_test(std::function<void()> hook);

 private:
  SqliteStore(Db db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}

  // Runs `body` in one BEGIN IMMEDIATE transaction under mu_ and commits it. If `body` fails
  // with a caller-visible refusal (see store.h), the rollback is followed by an audit event
  // {actor, operation, tenant, outcome = the code} in its own transaction.
  Status write(const Actor& actor, std::string_view operation, std::string_view tenant,
               const std::function<Status()>& body);
  // Appends an audit row inside the caller's transaction.
  Status insert_audit(const AuditEvent& event);
  // Reads a tenant inside the caller's transaction. Errors: kTenantNotFound.
  Result<Tenant> load(std::string_view name);

  Db db_;
  const Clock& clock_;
  std::mutex mu_;  // one transaction at a time on this connection
  std::function<void()> before_commit_hook_;
};

}  // namespace lobster::store
