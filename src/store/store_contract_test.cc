// The Store contract, run on SqliteStore and FakeStore (abseil tip #135: one suite, every impl).
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "core/clock.h"
#include "core/testing/matchers.h"
#include "store/sqlite_store.h"
#include "store/testing/fake_store.h"
#include "store/testing/temp_dir.h"

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

struct SqliteImpl {
  testing::TempDir dir;
  std::unique_ptr<Store> make(const Clock& clock) {
    auto s = SqliteStore::open(dir.path() + "/state.db", clock);
    EXPECT_THAT(s, IsOk());
    return s ? std::unique_ptr<Store>(std::move(*s)) : nullptr;
  }
};

struct FakeImpl {
  std::unique_ptr<Store> make(const Clock& clock) { return std::make_unique<FakeStore>(clock); }
};

template <typename Impl>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = impl_.make(clock_);
    ASSERT_NE(store_, nullptr);
  }

  NewTenant tenant(std::string name) {
    return NewTenant{.name = std::move(name),
                     .profile = "minimal",
                     .vcpus = 2,
                     .mem_mb = 1024,
                     .agent_token = "agent-secret-" + std::to_string(++serial_),
                     .gateway_token = "gateway-secret-" + std::to_string(serial_)};
  }
  Result<Tenant> create(std::string name) {
    return store_->create_tenant(tenant(std::move(name)), limits_, Actor::uid(0));
  }

  FakeClock clock_;
  Impl impl_;
  std::unique_ptr<Store> store_;
  AllocationLimits limits_{.max_subnet_index = 100, .uid_start = 10000, .uid_count = 1000};
  int serial_ = 0;
};

using Impls = ::testing::Types<SqliteImpl, FakeImpl>;
TYPED_TEST_SUITE(StoreContractTest, Impls);

TYPED_TEST(StoreContractTest, CreateStoresEveryFieldAndAllocatesLowest) {
  auto a = this->create("alice");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->status, TenantStatus::kCreating);
  EXPECT_EQ(a->created_at_ms, this->clock_.now_ms());
  EXPECT_EQ(a->alloc, (Allocation{1, 10000, 1}));
  this->clock_.advance_ms(5);
  auto b = this->create("bob");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->alloc, (Allocation{2, 10001, 2}));
  EXPECT_NE(a->id, b->id);
  auto got = this->store_->get_tenant("alice");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, *a);
  EXPECT_EQ(got->agent_token, "agent-secret-1");
  EXPECT_EQ(got->profile, "minimal");
  EXPECT_EQ(got->vcpus, 2);
  EXPECT_EQ(got->mem_mb, 1024);
}

TYPED_TEST(StoreContractTest, DuplicateNameIsTenantExistsAndAllocatesNothing) {
  ASSERT_THAT(this->create("alice"), IsOk());
  EXPECT_THAT(this->create("alice"), HasError(ErrorCode::kTenantExists));
  auto b = this->create("bob");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->alloc, (Allocation{2, 10001, 2}));
  auto audit = this->store_->recent_audit(2, "alice");
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), 2u);
  EXPECT_EQ((*audit)[0].outcome, "TENANT_EXISTS");
  EXPECT_EQ((*audit)[1].outcome, "ok");
}

TYPED_TEST(StoreContractTest, RejectsBadNamesAndInput) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Alice", "1abc", "a b", "a.b", std::string(64, 'a')}) {
    EXPECT_THAT(this->create(bad), HasError(ErrorCode::kValidationFailed)) << bad;
  }
  EXPECT_THAT(this->create(std::string(63, 'a')), IsOk());
  NewTenant t = this->tenant("carol");
  t.intent = "{not json";
  EXPECT_THAT(this->store_->create_tenant(t, this->limits_, Actor::daemon()),
              HasError(ErrorCode::kValidationFailed));
  t = this->tenant("carol");
  t.vcpus = 0;
  EXPECT_THAT(this->store_->create_tenant(t, this->limits_, Actor::daemon()),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(
      this->store_->create_tenant(this->tenant("carol"), AllocationLimits{}, Actor::daemon()),
      HasError(ErrorCode::kValidationFailed));
}

TYPED_TEST(StoreContractTest, ReleasedAllocationsAreReusedLowestFirst) {
  for (std::string n : {"a", "b", "c", "d", "e"}) {
    ASSERT_THAT(this->create(n), IsOk());
  }
  ASSERT_THAT(this->store_->delete_tenant("d", {}, Actor::uid(0)), IsOk());
  ASSERT_THAT(this->store_->delete_tenant("b", {}, Actor::uid(0)), IsOk());
  auto f = this->create("f");
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->alloc, (Allocation{2, 10001, 2}));
  auto g = this->create("g");
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->alloc, (Allocation{4, 10003, 4}));
  auto h = this->create("h");
  ASSERT_THAT(h, IsOk());
  EXPECT_EQ(h->alloc, (Allocation{6, 10005, 6}));
}

TYPED_TEST(StoreContractTest, ExhaustedSubnetsOrUidsWriteNothing) {
  this->limits_.max_subnet_index = 2;
  ASSERT_THAT(this->create("a"), IsOk());
  ASSERT_THAT(this->create("b"), IsOk());
  EXPECT_THAT(this->create("c"), HasError(ErrorCode::kResourceExhausted));
  this->limits_ = {.max_subnet_index = 100, .uid_start = 20000, .uid_count = 3};
  ASSERT_THAT(this->create("c"), IsOk());  // uids 20000 upwards are free
  EXPECT_THAT(this->create("d"), IsOk());
  EXPECT_THAT(this->create("e"), IsOk());
  EXPECT_THAT(this->create("f"), HasError(ErrorCode::kResourceExhausted));
  auto all = this->store_->list_tenants();
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 5u);
  auto audit = this->store_->recent_audit(1, "f");
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ(audit->front().outcome, "RESOURCE_EXHAUSTED");
}

TYPED_TEST(StoreContractTest, ListIsOrderedByName) {
  for (std::string n : {"zed", "amy", "kim"}) {
    ASSERT_THAT(this->create(n), IsOk());
  }
  auto all = this->store_->list_tenants();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "amy");
  EXPECT_EQ((*all)[1].name, "kim");
  EXPECT_EQ((*all)[2].name, "zed");
}

TYPED_TEST(StoreContractTest, UpdateIsCompareAndSet) {
  ASSERT_THAT(this->create("alice"), IsOk());
  this->clock_.advance_ms(1000);
  TenantUpdate wrong{.expect_status = {TenantStatus::kActive}, .status = TenantStatus::kSuspending};
  EXPECT_THAT(this->store_->update_tenant("alice", wrong, Actor::daemon()),
              HasError(ErrorCode::kInvalidState));
  auto unchanged = this->store_->get_tenant("alice");
  ASSERT_THAT(unchanged, IsOk());
  EXPECT_EQ(unchanged->status, TenantStatus::kCreating);
  EXPECT_EQ(unchanged->updated_at_ms, unchanged->created_at_ms);

  TenantUpdate up{.expect_status = {TenantStatus::kCreating, TenantStatus::kFailed},
                  .status = TenantStatus::kActive,
                  .vm = VmProcess{4242, 987654},
                  .intent = R"({"op":"spawn","done":["tap","vm"]})"};
  auto after = this->store_->update_tenant("alice", up, Actor::daemon());
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->status, TenantStatus::kActive);
  EXPECT_EQ(after->vm, (VmProcess{4242, 987654}));
  EXPECT_EQ(after->updated_at_ms, after->created_at_ms + 1000);
  auto got = this->store_->get_tenant("alice");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, *after);

  TenantUpdate clear{.clear_vm = true, .intent = "", .suspend_info = R"({"snapshotDir":"/x"})"};
  auto cleared = this->store_->update_tenant("alice", clear, Actor::daemon());
  ASSERT_THAT(cleared, IsOk());
  EXPECT_FALSE(cleared->vm.has_value());
  EXPECT_EQ(cleared->intent, "");
  EXPECT_EQ(cleared->suspend_info, R"({"snapshotDir":"/x"})");
  EXPECT_EQ(cleared->status, TenantStatus::kActive);
}

TYPED_TEST(StoreContractTest, UpdateRejectsBadInputAndMissingTenant) {
  ASSERT_THAT(this->create("alice"), IsOk());
  EXPECT_THAT(this->store_->update_tenant("alice", {.intent = "{"}, Actor::daemon()),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(this->store_->update_tenant("alice", {.gateway_token = ""}, Actor::daemon()),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(this->store_->update_tenant("nobody", {}, Actor::daemon()),
              HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(this->store_->get_tenant("nobody"), HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(this->store_->delete_tenant("nobody", {}, Actor::daemon()),
              HasError(ErrorCode::kTenantNotFound));
  auto rotated = this->store_->update_tenant("alice", {.gateway_token = "new"}, Actor::daemon());
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->gateway_token, "new");
}

TYPED_TEST(StoreContractTest, DeleteHonoursExpectedStatus) {
  ASSERT_THAT(this->create("alice"), IsOk());
  EXPECT_THAT(this->store_->delete_tenant("alice", {TenantStatus::kRemoving}, Actor::daemon()),
              HasError(ErrorCode::kInvalidState));
  ASSERT_THAT(
      this->store_->update_tenant("alice", {.status = TenantStatus::kRemoving}, Actor::daemon()),
      IsOk());
  EXPECT_THAT(this->store_->delete_tenant("alice", {TenantStatus::kRemoving}, Actor::daemon()),
              IsOk());
  EXPECT_THAT(this->store_->get_tenant("alice"), HasError(ErrorCode::kTenantNotFound));
}

TYPED_TEST(StoreContractTest, HoldsExpireAndDieWithTheirTenant) {
  ASSERT_THAT(this->create("alice"), IsOk());
  ASSERT_THAT(this->create("bob"), IsOk());
  int64_t now = this->clock_.now_ms();
  Actor actor = Actor::uid(0);
  EXPECT_THAT(this->store_->put_hold({"nobody", "h", now + 10}, actor),
              HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(this->store_->put_hold({"alice", "", now + 10}, actor),
              HasError(ErrorCode::kValidationFailed));
  ASSERT_THAT(this->store_->put_hold({"alice", "exec-1", now + 100}, actor), IsOk());
  ASSERT_THAT(this->store_->put_hold({"alice", "exec-2", now + 50}, actor), IsOk());
  ASSERT_THAT(this->store_->put_hold({"bob", "logs", now + 50}, actor), IsOk());
  // Keepalive moves the expiry instead of adding a second hold.
  ASSERT_THAT(this->store_->put_hold({"alice", "exec-2", now + 300}, actor), IsOk());
  auto alice = this->store_->list_holds("alice");
  ASSERT_THAT(alice, IsOk());
  EXPECT_EQ(*alice,
            (std::vector<Hold>{{"alice", "exec-1", now + 100}, {"alice", "exec-2", now + 300}}));
  this->clock_.advance_ms(100);  // exec-1 and bob's hold expire now (expiry <= now)
  auto all = this->store_->list_holds("");
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(*all, (std::vector<Hold>{{"alice", "exec-2", now + 300}}));
  auto pruned = this->store_->prune_expired_holds(Actor::daemon());
  ASSERT_THAT(pruned, IsOk());
  EXPECT_EQ(*pruned, 2);
  auto released = this->store_->release_hold("alice", "exec-2", actor);
  ASSERT_THAT(released, IsOk());
  EXPECT_TRUE(*released);
  released = this->store_->release_hold("alice", "exec-2", actor);
  ASSERT_THAT(released, IsOk());
  EXPECT_FALSE(*released);
  ASSERT_THAT(this->store_->put_hold({"bob", "again", now + 1000}, actor), IsOk());
  ASSERT_THAT(this->store_->delete_tenant("bob", {}, actor), IsOk());
  ASSERT_THAT(this->create("bob"), IsOk());
  all = this->store_->list_holds("");
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(all->empty());
}

TYPED_TEST(StoreContractTest, EveryWriteIsAuditedWithoutSecrets) {
  ASSERT_THAT(this->create("alice"), IsOk());
  ASSERT_THAT(this->store_->update_tenant("alice", {.agent_token = "rotated-secret"},
                                          Actor::token("tok-7")),
              IsOk());
  ASSERT_THAT(this->store_->put_hold({"alice", "h1", this->clock_.now_ms() + 5}, Actor::daemon()),
              IsOk());
  ASSERT_THAT(this->store_->delete_tenant("alice", {}, Actor::uid(1000)), IsOk());
  auto audit = this->store_->recent_audit(100, "");
  ASSERT_THAT(audit, IsOk());
  ASSERT_EQ(audit->size(), 4u);
  EXPECT_EQ((*audit)[0].operation, "tenant.delete");
  EXPECT_EQ((*audit)[0].actor, "uid:1000");
  EXPECT_EQ((*audit)[1].operation, "hold.put");
  EXPECT_EQ((*audit)[1].actor, "daemon");
  EXPECT_EQ((*audit)[2].operation, "tenant.update");
  EXPECT_EQ((*audit)[2].actor, "token:tok-7");
  EXPECT_EQ((*audit)[3].operation, "tenant.create");
  EXPECT_EQ((*audit)[3].actor, "uid:0");
  for (const AuditEvent& e : *audit) {
    EXPECT_EQ(e.tenant, "alice");
    EXPECT_EQ(e.outcome, "ok");
    EXPECT_EQ(e.time_ms, this->clock_.now_ms());
    EXPECT_EQ(e.detail.find("secret"), std::string::npos) << e.detail;
  }
  EXPECT_GT((*audit)[0].id, (*audit)[1].id);
}

TYPED_TEST(StoreContractTest, AuditQueryLimitsAndFilters) {
  auto id1 = this->store_->append_audit({.actor = "uid:0",
                                         .operation = "spawn",
                                         .tenant = "alice",
                                         .outcome = "VM_BOOT_FAILED",
                                         .detail = "qemu exited"});
  ASSERT_THAT(id1, IsOk());
  auto id2 = this->store_->append_audit(
      {.time_ms = 42, .actor = "daemon", .operation = "repair", .tenant = "bob"});
  ASSERT_THAT(id2, IsOk());
  EXPECT_GT(*id2, *id1);
  EXPECT_THAT(this->store_->append_audit({.actor = "", .operation = "x"}),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(this->store_->recent_audit(0, ""), HasError(ErrorCode::kValidationFailed));
  auto latest = this->store_->recent_audit(1, "");
  ASSERT_THAT(latest, IsOk());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ(latest->front().id, *id2);
  EXPECT_EQ(latest->front().time_ms, 42);
  auto alice = this->store_->recent_audit(10, "alice");
  ASSERT_THAT(alice, IsOk());
  ASSERT_EQ(alice->size(), 1u);
  EXPECT_EQ(alice->front().outcome, "VM_BOOT_FAILED");
  EXPECT_EQ(alice->front().detail, "qemu exited");
  EXPECT_EQ(alice->front().time_ms, this->clock_.now_ms());
}

TYPED_TEST(StoreContractTest, EveryStatusIsStoredAndReadBack) {
  int i = 0;
  for (TenantStatus s : {TenantStatus::kCreating, TenantStatus::kActive, TenantStatus::kSuspending,
                         TenantStatus::kSuspended, TenantStatus::kResuming, TenantStatus::kRemoving,
                         TenantStatus::kFailed}) {
    NewTenant t = this->tenant("t" + std::to_string(i++));
    t.status = s;
    ASSERT_THAT(this->store_->create_tenant(t, this->limits_, Actor::daemon()), IsOk());
    auto got = this->store_->get_tenant(t.name);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->status, s) << status_name(s);
    auto back = status_from_name(status_name(s));
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(*back, s);
  }
  EXPECT_THAT(status_from_name("paused"), HasError(ErrorCode::kValidationFailed));
}

}  // namespace
}  // namespace lobster::store
