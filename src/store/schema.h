// The store's schema as an ordered list of migration steps, versioned by PRAGMA user_version.
//
// Step i (0-based) takes a database from version i to version i + 1. Steps are append-only:
// never edit a released step, add a new one. migrate() runs the missing steps in one
// BEGIN IMMEDIATE transaction, so concurrent openers migrate exactly once.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.h"
#include "store/sqlite_db.h"

namespace lobster::store {

struct Migration {
  int64_t version;  // the user_version after this step
  std::string_view sql;
};

std::span<const Migration> migrations();
int64_t latest_schema_version();

// Brings `db` to latest_schema_version(). Errors: kStoreFailed (SQL error, or the database has
// a newer version than this binary knows: refusing protects data written by a newer lobsterd).
Status migrate(Db& db);

// Applies only the steps up to `version` (tests build old databases with it).
Status migrate_to_for_test(Db& db, int64_t version);

}  // namespace lobster::store
