// SqliteStore across real processes (done-when item 4 of issue 3): concurrent writers get
// unique allocations, and a writer killed mid-transaction leaves nothing half-written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <utility>

#include "core/testing/matchers.h"
#include "store/sqlite_store.h"
#include "store/testing/temp_dir.h"

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

constexpr AllocationLimits kLimits{
    .max_subnet_index = 16383, .uid_start = 10000, .uid_count = 65536};
constexpr int kProcesses = 8;
constexpr int kPerProcess = 50;

NewTenant tenant(std::string name) {
  return NewTenant{.name = std::move(name),
                   .profile = "minimal",
                   .vcpus = 1,
                   .mem_mb = 256,
                   .agent_token = "agent",
                   .gateway_token = "gateway"};
}

// Body of one writer process; returns its exit status. Opens its own connection (a SQLite
// connection must not cross fork()).
int allocate_in_child(const std::string& path, int process) {
  auto store = SqliteStore::open(path);
  if (!store) {
    std::fprintf(stderr, "child %d: %s\n", process, store.error().to_string().c_str());
    return 2;
  }
  for (int i = 0; i < kPerProcess; ++i) {
    auto name = "p" + std::to_string(process) + "-" + std::to_string(i);
    auto t = (*store)->create_tenant(tenant(name), kLimits, Actor::uid(static_cast<uid_t>(i)));
    if (!t) {
      std::fprintf(stderr, "child %d: %s\n", process, t.error().to_string().c_str());
      return 1;
    }
  }
  return 0;
}

// Kills and reaps a child the test did not reap itself (a failed ASSERT returns early), so no
// test leaves a process behind.
struct ChildGuard {
  pid_t pid = -1;
  ChildGuard() = default;
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ChildGuard(ChildGuard&& o) noexcept : pid(std::exchange(o.pid, -1)) {}
  ~ChildGuard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // waitpid; returns the raw status, or -1.
  int reap() {
    int status = 0;
    pid_t got = ::waitpid(std::exchange(pid, -1), &status, 0);
    return got > 0 ? status : -1;
  }
};

// In a child: die with the test process, whatever happens to it.
void die_with_parent() { ::prctl(PR_SET_PDEATHSIG, SIGKILL); }

// Each churn process keeps at most two tenants alive (create i, then delete i - 1), so with
// lowest-first reuse no allocation may ever exceed 2 * kChurnProcesses.
constexpr int kChurnProcesses = 4;
constexpr int kChurnRounds = 50;

int churn_in_child(const std::string& path, int process) {
  auto store = SqliteStore::open(path);
  if (!store) {
    std::fprintf(stderr, "child %d: %s\n", process, store.error().to_string().c_str());
    return 2;
  }
  constexpr int64_t kBound = 2 * kChurnProcesses;
  for (int i = 0; i < kChurnRounds; ++i) {
    auto name = [process](int n) {
      return "c" + std::to_string(process) + "-" + std::to_string(n);
    };
    auto t = (*store)->create_tenant(tenant(name(i)), kLimits, Actor::daemon());
    if (!t) {
      std::fprintf(stderr, "child %d: %s\n", process, t.error().to_string().c_str());
      return 1;
    }
    if (t->alloc.subnet_index > kBound || t->alloc.tap_id > kBound ||
        t->alloc.jail_uid >= kLimits.uid_start + kBound) {
      std::fprintf(stderr, "child %d: allocation not lowest-first: subnet %lld uid %lld\n", process,
                   static_cast<long long>(t->alloc.subnet_index),
                   static_cast<long long>(t->alloc.jail_uid));
      return 4;
    }
    if (i > 0) {
      if (auto r = (*store)->delete_tenant(name(i - 1), {}, Actor::daemon()); !r) {
        std::fprintf(stderr, "child %d: %s\n", process, r.error().to_string().c_str());
        return 1;
      }
    }
  }
  return 0;
}

int64_t count_rows(const std::string& path, const std::string& table) {
  auto db = Db::open(path, 1000);
  if (!db) {
    return -1;
  }
  auto n = db->query_int("SELECT COUNT(*) FROM " + table);
  return n ? *n : -1;
}

TEST(SqliteStoreProcessTest, ConcurrentProcessesGetUniqueLowestAllocations) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.path() + "/state.db";
  // The children also race to create and migrate the fresh database.
  std::vector<ChildGuard> children(kProcesses);
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      die_with_parent();
      ::_exit(allocate_in_child(path, p));
    }
    children[static_cast<size_t>(p)].pid = pid;
  }
  for (ChildGuard& child : children) {
    int status = child.reap();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  auto store = SqliteStore::open(path);
  ASSERT_THAT(store, IsOk());
  auto all = (*store)->list_tenants();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), static_cast<size_t>(kProcesses * kPerProcess));
  std::set<int64_t> subnets, uids, taps;
  for (const Tenant& t : *all) {
    subnets.insert(t.alloc.subnet_index);
    uids.insert(t.alloc.jail_uid);
    taps.insert(t.alloc.tap_id);
  }
  // Unique and dense: exactly 1..400 and 10000..10399.
  ASSERT_EQ(subnets.size(), all->size());
  ASSERT_EQ(uids.size(), all->size());
  ASSERT_EQ(taps.size(), all->size());
  EXPECT_EQ(*subnets.begin(), 1);
  EXPECT_EQ(*subnets.rbegin(), kProcesses * kPerProcess);
  EXPECT_EQ(*uids.begin(), 10000);
  EXPECT_EQ(*uids.rbegin(), 10000 + kProcesses * kPerProcess - 1);
  auto integrity = (*store)->integrity_check();
  ASSERT_THAT(integrity, IsOk());
  EXPECT_EQ(*integrity, "ok");
}

TEST(SqliteStoreProcessTest, ConcurrentCreateAndDeleteReusesLowestFirst) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.path() + "/state.db";
  std::vector<ChildGuard> children(kChurnProcesses);
  for (int p = 0; p < kChurnProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      die_with_parent();
      ::_exit(churn_in_child(path, p));
    }
    children[static_cast<size_t>(p)].pid = pid;
  }
  for (ChildGuard& child : children) {
    int status = child.reap();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  auto store = SqliteStore::open(path);
  ASSERT_THAT(store, IsOk());
  auto all = (*store)->list_tenants();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), static_cast<size_t>(kChurnProcesses));  // each keeps its last one
  std::set<int64_t> subnets, uids;
  for (const Tenant& t : *all) {
    subnets.insert(t.alloc.subnet_index);
    uids.insert(t.alloc.jail_uid);
  }
  EXPECT_EQ(subnets.size(), all->size());
  EXPECT_EQ(uids.size(), all->size());
  EXPECT_EQ(count_rows(path, "allocations"), kChurnProcesses);
  auto integrity = (*store)->integrity_check();
  ASSERT_THAT(integrity, IsOk());
  EXPECT_EQ(*integrity, "ok");
}

TEST(SqliteStoreProcessTest, KillNineMidTransactionLeavesNoHalfWrittenAllocation) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.path() + "/state.db";
  {
    auto store = SqliteStore::open(path);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->create_tenant(tenant("first"), kLimits, Actor::daemon()), IsOk());
  }  // Closed before fork(): a connection must not cross fork().
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ChildGuard child;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    die_with_parent();
    ::close(fds[0]);
    auto store = SqliteStore::open(path);
    if (!store) {
      ::_exit(2);
    }
    (*store)->set_before_commit_hook_for_test([fd = fds[1]] {
      char c = 'x';
      (void)::write(fd, &c, 1);
      for (;;) {
        ::pause();  // Holds the write transaction open until SIGKILL.
      }
    });
    (void)(*store)->create_tenant(tenant("victim"), kLimits, Actor::daemon());
    ::_exit(3);
  }
  child.pid = pid;
  ::close(fds[1]);
  char c = 0;
  ASSERT_EQ(::read(fds[0], &c, 1), 1) << "child never reached the commit point";
  ::close(fds[0]);
  {
    // WAL readers never see the uncommitted rows, even while the writer holds the lock.
    auto reader = SqliteStore::open(path);
    ASSERT_THAT(reader, IsOk());
    EXPECT_THAT((*reader)->get_tenant("victim"), HasError(ErrorCode::kTenantNotFound));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = child.reap();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  auto store = SqliteStore::open(path);
  ASSERT_THAT(store, IsOk());
  auto integrity = (*store)->integrity_check();
  ASSERT_THAT(integrity, IsOk());
  EXPECT_EQ(*integrity, "ok");
  EXPECT_THAT((*store)->get_tenant("victim"), HasError(ErrorCode::kTenantNotFound));
  EXPECT_EQ(count_rows(path, "tenants"), 1);
  EXPECT_EQ(count_rows(path, "allocations"), 1);
  auto audit = (*store)->recent_audit(10, "victim");
  ASSERT_THAT(audit, IsOk());
  EXPECT_TRUE(audit->empty());
  // The lock died with the writer and the victim's allocation was never taken.
  auto second = (*store)->create_tenant(tenant("second"), kLimits, Actor::daemon());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->alloc, (Allocation{2, 10001, 2}));
}

}  // namespace
}  // namespace lobster::store
