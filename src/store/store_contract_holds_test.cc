// The Store contract, run on SqliteStore and FakeStore: holds, audit log, statuses.
#include <gtest/gtest.h>

#include "store/testing/store_contract.h"

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

template <typename Impl>
class StoreHoldsAuditContractTest : public testing::StoreContractTest<Impl> {};
TYPED_TEST_SUITE(StoreHoldsAuditContractTest, testing::StoreImpls);

TYPED_TEST(StoreHoldsAuditContractTest, HoldsExpireAndDieWithTheirTenant) {
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

TYPED_TEST(StoreHoldsAuditContractTest, EveryWriteIsAuditedWithoutSecrets) {
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

TYPED_TEST(StoreHoldsAuditContractTest, AuditQueryLimitsAndFilters) {
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

TYPED_TEST(StoreHoldsAuditContractTest, EveryStatusIsStoredAndReadBack) {
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

TYPED_TEST(StoreHoldsAuditContractTest, PruneAuditKeepsTheLatestEvents) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(
        this->store_->append_audit({.actor = "daemon", .operation = "op" + std::to_string(i)}),
        IsOk());
  }
  EXPECT_THAT(this->store_->prune_audit(0, Actor::daemon()),
              HasError(ErrorCode::kValidationFailed));
  auto removed = this->store_->prune_audit(2, Actor::uid(0));
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 4);  // 6 events (5 + the refused prune), 2 kept
  auto left = this->store_->recent_audit(100, "");
  ASSERT_THAT(left, IsOk());
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ((*left)[0].operation, "audit.prune");
  EXPECT_EQ((*left)[0].detail, "removed 4 events, kept 2");
  EXPECT_EQ((*left)[1].operation, "audit.prune");  // the refused call, audited
  EXPECT_EQ((*left)[1].outcome, "VALIDATION_FAILED");
  EXPECT_EQ((*left)[2].operation, "op4");
  removed = this->store_->prune_audit(10, Actor::uid(0));
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 0);
}

}  // namespace
}  // namespace lobster::store
