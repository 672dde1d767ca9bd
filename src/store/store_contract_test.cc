// The Store contract, run on SqliteStore and FakeStore: tenants and allocations.
#include "store/testing/store_contract.h"

#include <gtest/gtest.h>

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using testing::StoreContractTest;

TYPED_TEST_SUITE(StoreContractTest, testing::StoreImpls);

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

}  // namespace
}  // namespace lobster::store
