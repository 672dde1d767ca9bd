// SqliteStore specifics: file mode, WAL, persistence, schema migrations.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>
#include <thread>
#include <vector>

#include "core/testing/matchers.h"
#include "store/schema.h"
#include "store/testing/temp_dir.h"

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

constexpr AllocationLimits kLimits{.max_subnet_index = 100, .uid_start = 10000, .uid_count = 100};

NewTenant tenant(std::string name) {
  return NewTenant{.name = std::move(name),
                   .profile = "minimal",
                   .vcpus = 1,
                   .mem_mb = 256,
                   .agent_token = "a",
                   .gateway_token = "g"};
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return 0;
  }
  return st.st_mode & 07777;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }
  std::string db_path() const { return dir_.path() + "/state.db"; }

  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(SqliteStoreTest, DatabaseIsPrivateAndInWalMode) {
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, IsOk());
  ASSERT_THAT((*store)->create_tenant(tenant("alice"), kLimits, Actor::daemon()), IsOk());
  EXPECT_EQ(mode_of(db_path()), 0600u);
  EXPECT_EQ(mode_of(db_path() + "-wal"), 0600u);  // exists only in WAL mode
  EXPECT_EQ(mode_of(db_path() + "-shm"), 0600u);
  auto db = Db::open(db_path(), 1000);
  ASSERT_THAT(db, IsOk());
  auto stmt = db->prepare("PRAGMA journal_mode");
  ASSERT_THAT(stmt, IsOk());
  ASSERT_THAT(stmt->step(), IsOk());
  EXPECT_EQ(stmt->text(0), "wal");
}

TEST_F(SqliteStoreTest, TightensAnExistingWorldReadableFile) {
  {
    auto store = SqliteStore::open(db_path(), clock_);
    ASSERT_THAT(store, IsOk());
  }
  ASSERT_EQ(::chmod(db_path().c_str(), 0644), 0);
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ(mode_of(db_path()), 0600u);
}

TEST_F(SqliteStoreTest, StatePersistsAcrossReopen) {
  Tenant created;
  {
    auto store = SqliteStore::open(db_path(), clock_);
    ASSERT_THAT(store, IsOk());
    auto t = (*store)->create_tenant(tenant("alice"), kLimits, Actor::daemon());
    ASSERT_THAT(t, IsOk());
    auto u = (*store)->update_tenant(
        "alice", {.status = TenantStatus::kActive, .vm = VmProcess{77, 123456789012}},
        Actor::daemon());
    ASSERT_THAT(u, IsOk());
    created = *u;
  }
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, IsOk());
  auto got = (*store)->get_tenant("alice");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, created);
  auto audit = (*store)->recent_audit(10, "alice");
  ASSERT_THAT(audit, IsOk());
  EXPECT_EQ(audit->size(), 2u);
}

TEST_F(SqliteStoreTest, MigratesAVersionOneDatabase) {
  {
    auto db = Db::open(db_path(), 1000);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT(migrate_to_for_test(*db, 1), IsOk());
    ASSERT_THAT(db->exec("INSERT INTO tenants (id, name, status, profile, vcpus, mem_mb, "
                         "created_at_ms, updated_at_ms, vm_pid, suspend_info, agent_token, "
                         "gateway_token) VALUES (7, 'old', 'active', 'minimal', 2, 1024, 1, 2, "
                         "555, '', 'at', 'gt');"
                         "INSERT INTO allocations VALUES (7, 3, 10002, 3);"),
                IsOk());
    auto version = db->query_int("PRAGMA user_version");
    ASSERT_THAT(version, IsOk());
    ASSERT_EQ(*version, 1);
  }
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, IsOk());
  auto version = (*store)->schema_version();
  ASSERT_THAT(version, IsOk());
  EXPECT_EQ(*version, latest_schema_version());
  EXPECT_EQ(latest_schema_version(), static_cast<int64_t>(migrations().size()));
  auto old = (*store)->get_tenant("old");
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(old->status, TenantStatus::kActive);
  EXPECT_EQ(old->vm, (VmProcess{555, 0}));  // start time unknown for v1 rows
  EXPECT_EQ(old->intent, "");
  EXPECT_EQ(old->alloc, (Allocation{3, 10002, 3}));
  EXPECT_EQ(old->agent_token, "at");
  // Version 2 tables work, and the v1 allocation is respected by the allocator.
  EXPECT_THAT((*store)->put_hold({"old", "h", clock_.now_ms() + 1}, Actor::daemon()), IsOk());
  auto fresh = (*store)->create_tenant(tenant("new"), kLimits, Actor::daemon());
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->alloc, (Allocation{1, 10000, 1}));
  store->reset();
  auto again = SqliteStore::open(db_path(), clock_);  // migrating twice is a no-op
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT((*again)->get_tenant("new"), IsOk());
}

TEST_F(SqliteStoreTest, OneStoreIsSafeToShareBetweenThreads) {
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, IsOk());
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::vector<Result<Tenant>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        auto name = "t" + std::to_string(i) + "-" + std::to_string(j);
        results[static_cast<size_t>(i)].push_back(
            (*store)->create_tenant(tenant(name), kLimits, Actor::daemon()));
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::set<int64_t> subnets;
  for (const auto& per_thread : results) {
    for (const auto& r : per_thread) {
      ASSERT_THAT(r, IsOk());
      subnets.insert(r->alloc.subnet_index);
    }
  }
  EXPECT_EQ(subnets.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*subnets.rbegin(), kThreads * kEach);
}

TEST_F(SqliteStoreTest, RefusesASchemaFromTheFuture) {
  {
    auto db = Db::open(db_path(), 1000);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT(db->exec("PRAGMA user_version = 99"), IsOk());
  }
  auto store = SqliteStore::open(db_path(), clock_);
  ASSERT_THAT(store, HasError(ErrorCode::kStoreFailed));
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

TEST_F(SqliteStoreTest, NotADatabaseIsStoreFailed) {
  FILE* f = ::fopen(db_path().c_str(), "w");
  ASSERT_NE(f, nullptr);
  ::fputs("this is not an SQLite database, just some text long enough to matter\n", f);
  ::fclose(f);
  EXPECT_THAT(SqliteStore::open(db_path(), clock_), HasError(ErrorCode::kStoreFailed));
}

TEST_F(SqliteStoreTest, MissingDirectoryIsStoreFailed) {
  EXPECT_THAT(SqliteStore::open(dir_.path() + "/no/such/dir/state.db", clock_),
              HasError(ErrorCode::kStoreFailed));
}

}  // namespace
}  // namespace lobster::store
