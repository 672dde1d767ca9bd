#include "store/sqlite_db.h"

#include <utility>

namespace lobster::store {

Stmt::Stmt(Stmt&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), stmt_(std::exchange(o.stmt_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(o.db_, nullptr);
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

void Stmt::bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Stmt::bind(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Stmt::bind_null(int index) { sqlite3_bind_null(stmt_, index); }

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return make_error(ErrorCode::kStoreFailed, "sqlite step '{}': {}", sqlite3_sql(stmt_),
                    sqlite3_errmsg(db_));
}

Status Stmt::run() {
  while (LOB_TRY(step())) {
  }
  return ok();
}

int64_t Stmt::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Stmt::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (p == nullptr) {
    return {};
  }
  auto n = static_cast<size_t>(sqlite3_column_bytes(stmt_, column));
  return std::string(reinterpret_cast<const char*>(p), n);  // SQLite text is UTF-8 bytes.
}

bool Stmt::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Db::~Db() { sqlite3_close_v2(db_); }

Result<Db> Db::open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);  // Closes the handle even when open failed (SQLite allocates one anyway).
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kStoreFailed, "open database {}: {}", path,
                      raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

Status Db::exec(std::string_view sql) {
  std::string copy(sql);
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return make_error(ErrorCode::kStoreFailed, "sqlite exec '{}': {}", sql, text);
  }
  return ok();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return std::unexpected(error(fmt::format("sqlite prepare '{}'", sql)));
  }
  return Stmt(db_, stmt);
}

Result<int64_t> Db::query_int(std::string_view sql) {
  Stmt stmt = LOB_TRY(prepare(sql));
  if (!LOB_TRY(stmt.step())) {
    return make_error(ErrorCode::kStoreFailed, "sqlite '{}': no row", sql);
  }
  return stmt.integer(0);
}

int64_t Db::changes() const { return sqlite3_changes64(db_); }

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Db::extended_code() const { return sqlite3_extended_errcode(db_); }

Error Db::error(std::string_view what) const {
  return Error{ErrorCode::kStoreFailed, fmt::format("{}: {}", what, sqlite3_errmsg(db_))};
}

Result<Transaction> Transaction::begin(Db& db, bool write) {
  LOB_TRY(db.exec(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) {
    // A failed ROLLBACK leaves nothing to undo: SQLite already rolled back on the error.
    (void)db_->exec("ROLLBACK");
  }
}

Status Transaction::commit() {
  Db* db = std::exchange(db_, nullptr);
  if (auto r = db->exec("COMMIT"); !r) {
    (void)db->exec("ROLLBACK");
    return r;
  }
  return ok();
}

}  // namespace lobster::store
