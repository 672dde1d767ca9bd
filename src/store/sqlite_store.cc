// SqliteStore: opening, the transaction wrapper, reads. Writes live in sqlite_store_tenants.cc
// and sqlite_store_holds.cc.
#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "core/log.h"
#include "core/unique_fd.h"
#include "store/schema.h"
#include "store/sqlite_rows.h"

namespace lobster::store {
namespace {

// Long enough that normal contention (many writers queueing for the WAL write lock, each
// holding it for one fsync'd transaction) never surfaces as SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 30'000;

bool is_refusal(ErrorCode code) {
  return code == ErrorCode::kTenantExists || code == ErrorCode::kTenantNotFound ||
         code == ErrorCode::kInvalidState || code == ErrorCode::kResourceExhausted ||
         code == ErrorCode::kValidationFailed;
}

// Creates the file 0600 before SQLite sees it: the database holds tenant tokens. SQLite gives
// the -wal and -shm files the database file's mode.
Status create_private_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    return errno_error(ErrorCode::kStoreFailed, "open database file " + path);
  }
  if (::fchmod(fd.get(), 0600) != 0) {
    return errno_error(ErrorCode::kStoreFailed, "chmod 0600 " + path);
  }
  return ok();
}

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace

Result<Tenant> read_tenant(const Stmt& stmt) {
  Tenant t;
  t.id = stmt.integer(0);
  t.name = stmt.text(1);
  auto status = status_from_name(stmt.text(2));
  if (!status) {
    return make_error(ErrorCode::kStoreFailed, "tenant '{}': {}", t.name, status.error().message);
  }
  t.status = *status;
  t.profile = stmt.text(3);
  t.vcpus = stmt.integer(4);
  t.mem_mb = stmt.integer(5);
  t.created_at_ms = stmt.integer(6);
  t.updated_at_ms = stmt.integer(7);
  if (!stmt.is_null(8)) {
    t.vm = VmProcess{stmt.integer(8), stmt.integer(9)};
  }
  t.intent = stmt.text(10);
  t.suspend_info = stmt.text(11);
  t.agent_token = stmt.text(12);
  t.gateway_token = stmt.text(13);
  t.alloc = Allocation{stmt.integer(14), stmt.integer(15), stmt.integer(16)};
  return t;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  return open(path, system_clock());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const Clock& clock) {
  LOB_TRY(create_private_file(path));
  Db db = LOB_TRY(Db::open(path, kBusyTimeoutMs));
  // WAL is persistent in the file; switching needs an exclusive lock, which the busy timeout
  // waits for when several processes open a fresh database at once.
  // SQLite may answer "database is locked" at once, without calling the busy handler, when
  // the switch would deadlock with another opener's lock upgrade; retry within the timeout.
  for (int64_t waited_ms = 0;; waited_ms += 20) {
    auto enabled = [&]() -> Result<bool> {
      auto mode = LOB_TRY(db.prepare("PRAGMA journal_mode = WAL"));
      return LOB_TRY(mode.step()) && mode.text(0) == "wal";
    }();  // The statement is finalized here: an unfinished one would block COMMIT later.
    if (enabled && *enabled)
      break;
    bool locked = !enabled && enabled.error().message.find("locked") != std::string::npos;
    if (!locked || waited_ms >= kBusyTimeoutMs) {
      if (!enabled)
        return std::unexpected(std::move(enabled).error());
      return make_error(ErrorCode::kStoreFailed, "database {}: cannot enable WAL mode", path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // FULL: a committed allocation survives power loss, so effects recorded as done are.
  LOB_TRY(db.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"));
  if (auto r = migrate(db); !r) {
    Error e = std::move(r).error();
    e.message = fmt::format("database {}: {}", path, e.message);
    return std::unexpected(std::move(e));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), clock));
}

Status SqliteStore::write(const Actor& actor, std::string_view operation, std::string_view tenant,
                          const std::function<Status()>& body) {
  std::lock_guard lock(mu_);
  Status result = [&]() -> Status {
    Transaction txn = LOB_TRY(Transaction::begin(db_, /*write=*/true));
    LOB_TRY(body());
    if (before_commit_hook_) {
      before_commit_hook_();
    }
    return txn.commit();
  }();
  if (!result && is_refusal(result.error().code)) {
    AuditEvent event{.actor = actor.id,
                     .operation = std::string(operation),
                     .tenant = std::string(tenant),
                     .outcome = outcome_of(&result.error()),
                     .detail = result.error().message};
    auto audited = [&]() -> Status {
      Transaction txn = LOB_TRY(Transaction::begin(db_, /*write=*/true));
      LOB_TRY(insert_audit(event));
      return txn.commit();
    }();
    if (!audited) {
      log::warn("store.audit_failed",
                {{"operation", operation}, {"error", audited.error().to_string()}});
    }
  }
  return result;
}

Status SqliteStore::insert_audit(const AuditEvent& event) {
  auto stmt = LOB_TRY(
      db_.prepare("INSERT INTO audit_log (time_ms, actor, operation, tenant, outcome, detail) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  stmt.bind(1, event.time_ms != 0 ? event.time_ms : clock_.now_ms());
  stmt.bind(2, event.actor);
  stmt.bind(3, event.operation);
  stmt.bind(4, event.tenant);
  stmt.bind(5, event.outcome);
  stmt.bind(6, event.detail);
  return stmt.run();
}

Result<Tenant> SqliteStore::load(std::string_view name) {
  auto stmt = LOB_TRY(db_.prepare(std::string(kSelectTenant) + "WHERE t.name = ?1"));
  stmt.bind(1, name);
  if (!LOB_TRY(stmt.step())) {
    return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", name);
  }
  return read_tenant(stmt);
}

Result<Tenant> SqliteStore::get_tenant(std::string_view name) {
  std::lock_guard lock(mu_);
  return load(name);
}

Result<std::vector<Tenant>> SqliteStore::list_tenants() {
  std::lock_guard lock(mu_);
  auto stmt = LOB_TRY(db_.prepare(std::string(kSelectTenant) + "ORDER BY t.name"));
  std::vector<Tenant> out;
  while (LOB_TRY(stmt.step())) {
    out.push_back(LOB_TRY(read_tenant(stmt)));
  }
  return out;
}

Result<int64_t> SqliteStore::schema_version() {
  std::lock_guard lock(mu_);
  return db_.query_int("PRAGMA user_version");
}

Result<std::string> SqliteStore::integrity_check() {
  std::lock_guard lock(mu_);
  auto stmt = LOB_TRY(db_.prepare("PRAGMA integrity_check"));
  std::string out;
  while (LOB_TRY(stmt.step())) {
    if (!out.empty()) {
      out += '\n';
    }
    out += stmt.text(0);
  }
  return out;
}

void SqliteStore::set_before_commit_hook_for_test(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  before_commit_hook_ = std::move(hook);
}

}  // namespace lobster::store
