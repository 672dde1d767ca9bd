// SqliteStore tenant writes: create (with allocation), update, delete.
#include <fmt/format.h>

#include <algorithm>

#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"

namespace lobster::store {
namespace {

// Lowest value >= floor not used in allocations.<column>. Only called inside a write
// transaction, so no other writer can take the value before our INSERT; the UNIQUE
// constraints are the backstop.
Result<int64_t> lowest_free(Db& db, std::string_view column, int64_t floor) {
  auto stmt = LOB_TRY(db.prepare(
      fmt::format("SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM allocations WHERE {0} = ?1) THEN ?1 "
                  "ELSE (SELECT MIN(a.{0}) + 1 FROM allocations a WHERE a.{0} >= ?1 AND NOT EXISTS "
                  "(SELECT 1 FROM allocations b WHERE b.{0} = a.{0} + 1)) END",
                  column)));
  stmt.bind(1, floor);
  if (!LOB_TRY(stmt.step())) {
    return make_error(ErrorCode::kStoreFailed, "allocate {}: no result", column);
  }
  return stmt.integer(0);
}

}  // namespace

Result<Tenant> SqliteStore::create_tenant(const NewTenant& in, const AllocationLimits& limits,
                                          const Actor& actor) {
  Tenant out;
  LOB_TRY(write(actor, "tenant.create", in.name, [&]() -> Status {
    LOB_TRY(validate_new_tenant(in));
    LOB_TRY(validate_limits(limits));
    int64_t now = clock_.now_ms();
    auto insert = LOB_TRY(
        db_.prepare("INSERT INTO tenants (name, status, profile, vcpus, mem_mb, created_at_ms, "
                    "updated_at_ms, intent, agent_token, gateway_token) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)"));
    insert.bind(1, in.name);
    insert.bind(2, status_name(in.status));
    insert.bind(3, in.profile);
    insert.bind(4, in.vcpus);
    insert.bind(5, in.mem_mb);
    insert.bind(6, now);
    insert.bind(7, in.intent);
    insert.bind(8, in.agent_token);
    insert.bind(9, in.gateway_token);
    // The UNIQUE constraint on tenants.name decides existence (spec §16 item 3).
    if (auto r = insert.run(); !r) {
      if (db_.extended_code() == SQLITE_CONSTRAINT_UNIQUE) {
        return make_error(ErrorCode::kTenantExists, "tenant '{}' already exists", in.name);
      }
      return r;
    }
    int64_t id = db_.last_insert_rowid();
    Allocation alloc;
    alloc.subnet_index = LOB_TRY(lowest_free(db_, "subnet_index", 1));
    if (alloc.subnet_index > limits.max_subnet_index) {
      return make_error(ErrorCode::kResourceExhausted, "no free subnet index (all {} in use)",
                        limits.max_subnet_index);
    }
    alloc.jail_uid = LOB_TRY(lowest_free(db_, "jail_uid", limits.uid_start));
    if (alloc.jail_uid >= limits.uid_start + limits.uid_count) {
      return make_error(ErrorCode::kResourceExhausted, "no free jail uid in [{}, {})",
                        limits.uid_start, limits.uid_start + limits.uid_count);
    }
    alloc.tap_id = LOB_TRY(lowest_free(db_, "tap_id", 1));
    auto place =
        LOB_TRY(db_.prepare("INSERT INTO allocations (tenant_id, subnet_index, jail_uid, tap_id) "
                            "VALUES (?1, ?2, ?3, ?4)"));
    place.bind(1, id);
    place.bind(2, alloc.subnet_index);
    place.bind(3, alloc.jail_uid);
    place.bind(4, alloc.tap_id);
    LOB_TRY(place.run());
    LOB_TRY(insert_audit({.actor = actor.id,
                          .operation = "tenant.create",
                          .tenant = in.name,
                          .detail = fmt::format("status={} subnet_index={} jail_uid={} tap_id={}",
                                                status_name(in.status), alloc.subnet_index,
                                                alloc.jail_uid, alloc.tap_id)}));
    out = LOB_TRY(load(in.name));
    return ok();
  }));
  return out;
}

Result<Tenant> SqliteStore::update_tenant(std::string_view name, const TenantUpdate& update,
                                          const Actor& actor) {
  Tenant out;
  LOB_TRY(write(actor, "tenant.update", name, [&]() -> Status {
    LOB_TRY(validate_update(update));
    Tenant t = LOB_TRY(load(name));
    LOB_TRY(apply_update(t, update, clock_.now_ms()));
    auto stmt = LOB_TRY(
        db_.prepare("UPDATE tenants SET status = ?2, vm_pid = ?3, vm_start_time = ?4, intent = ?5, "
                    "suspend_info = ?6, agent_token = ?7, gateway_token = ?8, updated_at_ms = ?9 "
                    "WHERE id = ?1"));
    stmt.bind(1, t.id);
    stmt.bind(2, status_name(t.status));
    if (t.vm) {
      stmt.bind(3, t.vm->pid);
      stmt.bind(4, t.vm->start_time);
    } else {
      stmt.bind_null(3);
      stmt.bind_null(4);
    }
    stmt.bind(5, t.intent);
    stmt.bind(6, t.suspend_info);
    stmt.bind(7, t.agent_token);
    stmt.bind(8, t.gateway_token);
    stmt.bind(9, t.updated_at_ms);
    LOB_TRY(stmt.run());
    LOB_TRY(insert_audit({.actor = actor.id,
                          .operation = "tenant.update",
                          .tenant = t.name,
                          .detail = describe_update(update)}));
    out = std::move(t);
    return ok();
  }));
  return out;
}

Status SqliteStore::delete_tenant(std::string_view name,
                                  const std::vector<TenantStatus>& expect_status,
                                  const Actor& actor) {
  return write(actor, "tenant.delete", name, [&]() -> Status {
    Tenant t = LOB_TRY(load(name));
    LOB_TRY(check_status(t, expect_status));
    // ON DELETE CASCADE releases the allocation row and the holds in this transaction.
    auto stmt = LOB_TRY(db_.prepare("DELETE FROM tenants WHERE id = ?1"));
    stmt.bind(1, t.id);
    LOB_TRY(stmt.run());
    return insert_audit({.actor = actor.id,
                         .operation = "tenant.delete",
                         .tenant = t.name,
                         .detail = fmt::format("status={} released subnet_index={} jail_uid={} "
                                               "tap_id={}",
                                               status_name(t.status), t.alloc.subnet_index,
                                               t.alloc.jail_uid, t.alloc.tap_id)});
  });
}

}  // namespace lobster::store
