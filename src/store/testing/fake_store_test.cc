// FakeStore-only behaviour (the shared contract is in store_contract_*_test.cc).
#include "store/testing/fake_store.h"

#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::store {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(FakeStoreTest, InjectedWriteFailureChangesNothingAndIsOneShot) {
  FakeClock clock;
  FakeStore store(clock);
  NewTenant t{.name = "alice",
              .profile = "minimal",
              .vcpus = 1,
              .mem_mb = 256,
              .agent_token = "a",
              .gateway_token = "g"};
  AllocationLimits limits{.max_subnet_index = 10};
  store.fail_next_write_for_test();
  EXPECT_THAT(store.create_tenant(t, limits, Actor::daemon()), HasError(ErrorCode::kStoreFailed));
  auto all = store.list_tenants();
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(all->empty());
  auto audit = store.recent_audit(10, "");
  ASSERT_THAT(audit, IsOk());
  EXPECT_TRUE(audit->empty());
  auto created = store.create_tenant(t, limits, Actor::daemon());
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->alloc, (Allocation{1, 10000, 1}));
}

}  // namespace
}  // namespace lobster::store
