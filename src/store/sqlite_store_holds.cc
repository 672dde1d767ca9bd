// SqliteStore holds and audit log.
#include <fmt/format.h>

#include "store/sqlite_store.h"

namespace lobster::store {

Status SqliteStore::put_hold(const Hold& hold, const Actor& actor) {
  return write(actor, "hold.put", hold.tenant, [&]() -> Status {
    LOB_TRY(validate_hold(hold));
    Tenant t = LOB_TRY(load(hold.tenant));
    auto stmt = LOB_TRY(db_.prepare(
        "INSERT INTO holds (tenant_id, hold_id, expires_at_ms) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (tenant_id, hold_id) DO UPDATE SET expires_at_ms = excluded.expires_at_ms"));
    stmt.bind(1, t.id);
    stmt.bind(2, hold.hold_id);
    stmt.bind(3, hold.expires_at_ms);
    LOB_TRY(stmt.run());
    return insert_audit(
        {.actor = actor.id,
         .operation = "hold.put",
         .tenant = t.name,
         .detail = fmt::format("hold_id={} expires_at_ms={}", hold.hold_id, hold.expires_at_ms)});
  });
}

Result<bool> SqliteStore::release_hold(std::string_view tenant, std::string_view hold_id,
                                       const Actor& actor) {
  bool removed = false;
  LOB_TRY(write(actor, "hold.release", tenant, [&]() -> Status {
    auto stmt =
        LOB_TRY(db_.prepare("DELETE FROM holds WHERE hold_id = ?2 AND tenant_id = "
                            "(SELECT id FROM tenants WHERE name = ?1)"));
    stmt.bind(1, tenant);
    stmt.bind(2, hold_id);
    LOB_TRY(stmt.run());
    removed = db_.changes() > 0;
    if (!removed) {
      return ok();
    }
    return insert_audit({.actor = actor.id,
                         .operation = "hold.release",
                         .tenant = std::string(tenant),
                         .detail = fmt::format("hold_id={}", hold_id)});
  }));
  return removed;
}

Result<std::vector<Hold>> SqliteStore::list_holds(std::string_view tenant) {
  std::lock_guard lock(mu_);
  auto stmt = LOB_TRY(
      db_.prepare("SELECT t.name, h.hold_id, h.expires_at_ms FROM holds h JOIN tenants t "
                  "ON t.id = h.tenant_id WHERE h.expires_at_ms > ?1 AND (?2 = '' OR t.name = ?2) "
                  "ORDER BY t.name, h.hold_id"));
  stmt.bind(1, clock_.now_ms());
  stmt.bind(2, tenant);
  std::vector<Hold> out;
  while (LOB_TRY(stmt.step())) {
    out.push_back(Hold{stmt.text(0), stmt.text(1), stmt.integer(2)});
  }
  return out;
}

Result<int64_t> SqliteStore::prune_expired_holds(const Actor& actor) {
  int64_t removed = 0;
  LOB_TRY(write(actor, "hold.prune", "", [&]() -> Status {
    auto stmt = LOB_TRY(db_.prepare("DELETE FROM holds WHERE expires_at_ms <= ?1"));
    stmt.bind(1, clock_.now_ms());
    LOB_TRY(stmt.run());
    removed = db_.changes();
    if (removed == 0) {
      return ok();
    }
    return insert_audit({.actor = actor.id,
                         .operation = "hold.prune",
                         .detail = fmt::format("removed {} expired holds", removed)});
  }));
  return removed;
}

Result<int64_t> SqliteStore::append_audit(const AuditEvent& event) {
  if (event.actor.empty() || event.operation.empty()) {
    return make_error(ErrorCode::kValidationFailed,
                      "audit event: expected non-empty actor and operation");
  }
  int64_t id = 0;
  LOB_TRY(write(Actor{event.actor}, event.operation, event.tenant, [&]() -> Status {
    LOB_TRY(insert_audit(event));
    id = db_.last_insert_rowid();
    return ok();
  }));
  return id;
}

Result<std::vector<AuditEvent>> SqliteStore::recent_audit(int64_t limit, std::string_view tenant) {
  if (limit < 1) {
    return make_error(ErrorCode::kValidationFailed, "audit limit: expected >= 1 (got {})", limit);
  }
  std::lock_guard lock(mu_);
  auto stmt = LOB_TRY(
      db_.prepare("SELECT id, time_ms, actor, operation, tenant, outcome, detail FROM audit_log "
                  "WHERE ?2 = '' OR tenant = ?2 ORDER BY id DESC LIMIT ?1"));
  stmt.bind(1, limit);
  stmt.bind(2, tenant);
  std::vector<AuditEvent> out;
  while (LOB_TRY(stmt.step())) {
    out.push_back(AuditEvent{stmt.integer(0), stmt.integer(1), stmt.text(2), stmt.text(3),
                             stmt.text(4), stmt.text(5), stmt.text(6)});
  }
  return out;
}

Result<int64_t> SqliteStore::prune_audit(int64_t keep_latest, const Actor& actor) {
  int64_t removed = 0;
  LOB_TRY(write(actor, "audit.prune", "", [&]() -> Status {
    if (keep_latest < 1) {
      return make_error(ErrorCode::kValidationFailed, "audit keep: expected >= 1 (got {})",
                        keep_latest);
    }
    auto stmt =
        LOB_TRY(db_.prepare("DELETE FROM audit_log WHERE id <= "
                            "(SELECT id FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET ?1)"));
    stmt.bind(1, keep_latest);
    LOB_TRY(stmt.run());
    removed = db_.changes();
    return insert_audit(
        {.actor = actor.id,
         .operation = "audit.prune",
         .detail = fmt::format("removed {} events, kept {}", removed, keep_latest)});
  }));
  return removed;
}

}  // namespace lobster::store
