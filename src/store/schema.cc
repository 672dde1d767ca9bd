#include "store/schema.h"

#include <array>

namespace lobster::store {
namespace {

// Version 1: tenants, their allocations, the audit log.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE tenants (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('creating', 'active', 'suspending', 'suspended',
                                         'resuming', 'removing', 'failed')),
  profile TEXT NOT NULL,
  vcpus INTEGER NOT NULL CHECK (vcpus >= 1),
  mem_mb INTEGER NOT NULL CHECK (mem_mb >= 1),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  vm_pid INTEGER,
  suspend_info TEXT NOT NULL DEFAULT '',
  agent_token TEXT NOT NULL,
  gateway_token TEXT NOT NULL
) STRICT;
CREATE TABLE allocations (
  tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  subnet_index INTEGER NOT NULL UNIQUE CHECK (subnet_index >= 1),
  jail_uid INTEGER NOT NULL UNIQUE,
  tap_id INTEGER NOT NULL UNIQUE CHECK (tap_id >= 1)
) STRICT;
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  operation TEXT NOT NULL,
  tenant TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_by_tenant ON audit_log (tenant, id);
)sql";

// Version 2: VMM re-attach identity (pid + start time), the in-progress operation's intent
// for crash recovery, and holds.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE tenants ADD COLUMN vm_start_time INTEGER;
ALTER TABLE tenants ADD COLUMN intent TEXT NOT NULL DEFAULT '';
CREATE TABLE holds (
  tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  hold_id TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, hold_id)
) STRICT;
CREATE INDEX holds_by_expiry ON holds (expires_at_ms);
)sql";

constexpr std::array kMigrations{Migration{1, kV1}, Migration{2, kV2}};

Status check_not_newer(int64_t version) {
  if (version > latest_schema_version()) {
    return make_error(ErrorCode::kStoreFailed,
                      "database schema version {} is newer than this lobsterd supports ({})",
                      version, latest_schema_version());
  }
  return ok();
}

Status migrate_up_to(Db& db, int64_t target) {
  // Fast path without the write lock, so opening an up-to-date database never waits for a
  // writer that holds a long transaction.
  int64_t current = LOB_TRY(db.query_int("PRAGMA user_version"));
  LOB_TRY(check_not_newer(current));
  if (current >= target) {
    return ok();
  }
  Transaction txn = LOB_TRY(Transaction::begin(db, /*write=*/true));
  // Read inside the write transaction: another process may have migrated meanwhile.
  int64_t version = LOB_TRY(db.query_int("PRAGMA user_version"));
  LOB_TRY(check_not_newer(version));
  for (const Migration& m : kMigrations) {
    if (m.version <= version || m.version > target) {
      continue;
    }
    LOB_TRY(db.exec(m.sql));
    LOB_TRY(db.exec(fmt::format("PRAGMA user_version = {}", m.version)));
  }
  return txn.commit();
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int64_t latest_schema_version() { return kMigrations.back().version; }

Status migrate(Db& db) { return migrate_up_to(db, latest_schema_version()); }

Status migrate_to_for_test(Db& db, int64_t version) { return migrate_up_to(db, version); }

}  // namespace lobster::store
