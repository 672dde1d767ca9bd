#include "tenant/recover.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/testing/matchers.h"
#include "store/testing/fake_store.h"

namespace lobster::tenant {
namespace {

using ::lobster::testing::IsOk;
using store::TenantStatus;

class RecoverTest : public ::testing::Test {
 protected:
  void SetUp() override { env_.store = &store_; }

  void add(const std::string& name, TenantStatus status) {
    store::NewTenant nt{.name = name,
                        .profile = "minimal",
                        .vcpus = 1,
                        .mem_mb = 256,
                        .agent_token = "a",
                        .gateway_token = "g",
                        .intent = "",
                        .status = TenantStatus::kActive};
    ASSERT_THAT(store_.create_tenant(nt, {.max_subnet_index = 100}, store::Actor::daemon()),
                IsOk());
    ASSERT_THAT(store_.update_tenant(name, {.status = status, .intent = R"({"op":"x"})"},
                                     store::Actor::daemon()),
                IsOk());
  }

  FakeClock clock_;
  store::FakeStore store_{clock_};
  TenantEnv env_;
};

// Killed mid-suspend or mid-resume, a tenant must not stay in a state every operation
// (evict included) refuses forever.
TEST_F(RecoverTest, InterruptedSuspendAndResumeBecomeFailed) {
  add("sus", TenantStatus::kSuspending);
  add("res", TenantStatus::kResuming);
  add("fine", TenantStatus::kSuspended);
  auto report = recover(env_);
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT(report->marked_failed, ::testing::UnorderedElementsAre("sus", "res"));
  EXPECT_TRUE(report->removed.empty());
  EXPECT_TRUE(report->failed.empty());
  for (const char* name : {"sus", "res"}) {
    auto t = store_.get_tenant(name);
    ASSERT_THAT(t, IsOk());
    EXPECT_EQ(t->status, TenantStatus::kFailed) << name;
    EXPECT_EQ(t->intent, "") << name;
  }
  auto fine = store_.get_tenant("fine");
  ASSERT_THAT(fine, IsOk());
  EXPECT_EQ(fine->status, TenantStatus::kSuspended);
}

}  // namespace
}  // namespace lobster::tenant
