// Thin RAII wrappers over the SQLite C API, used only inside src/store/.
//
// Db owns a connection, Stmt a prepared statement. Every failure becomes kStoreFailed with the
// operation and SQLite's message; Db::extended_code() exposes the last extended result code so
// callers can map constraint violations (SQLITE_CONSTRAINT_UNIQUE -> kTenantExists).
//
//   auto stmt = LOB_TRY(db.prepare("SELECT name FROM tenants WHERE id = ?1"));
//   stmt.bind(1, id);
//   while (LOB_TRY(stmt.step())) names.push_back(stmt.text(0));
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::store {

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();

  // Parameters are 1-based, as in SQL (?1, ?2, ...). Text is copied (SQLITE_TRANSIENT).
  void bind(int index, int64_t value);
  void bind(int index, std::string_view value);
  void bind_null(int index);

  // Advances: true when a row is available, false when done. kStoreFailed on error.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();

  int64_t integer(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  ~Db();

  // Opens (read-write, create) with extended result codes and a busy timeout.
  static Result<Db> open(const std::string& path, int busy_timeout_ms);

  // Runs one or more statements that return no rows.
  Status exec(std::string_view sql);
  Result<Stmt> prepare(std::string_view sql);
  // Runs a statement returning a single integer (PRAGMA user_version, COUNT(*), ...).
  Result<int64_t> query_int(std::string_view sql);

  int64_t changes() const;
  int64_t last_insert_rowid() const;
  int extended_code() const;
  // kStoreFailed "<what>: <sqlite message>".
  Error error(std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A transaction: BEGIN IMMEDIATE (write: takes the write lock up front, so a read-then-write
// body can never hit SQLITE_BUSY on lock upgrade) or BEGIN DEFERRED. Rolled back on destruction
// unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db, bool write);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

}  // namespace lobster::store
