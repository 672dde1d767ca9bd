// Idle auto-suspend and wake timers against the in-memory fakes and the loopback fake agent,
// driven by a FakeClock through the LoopHost's test driver (no threads, no sleeps).
#include "sched/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"
#include "health/holds.h"
#include "sched/autonomy.h"
#include "sched/testing/autonomy_env_test.h"
#include "tenant/spawn.h"
#include "tenant/suspend.h"

namespace lobster::sched {
namespace {

using ::lobster::testing::IsOk;
using store::TenantStatus;
using ::testing::Contains;
using ::testing::HasSubstr;

class SchedulerTest : public testing::AutonomyEnvTest {
 protected:
  void SetUp() override {
    AutonomyEnvTest::SetUp();
    if (HasFatalFailure())
      return;
    env_.config.watchdog.idle_threshold_ms = 3000;
    env_.config.watchdog.cron_wake_ahead_ms = 15'000;
    env_.config.watchdog.idle_suspend = true;
    set_up_fleet({"alice"});
    start(&activity_);
  }
  TenantStatus status() { return get("alice").status; }
  int count(const std::string& op) { return AutonomyEnvTest::count("alice", op); }
  std::string detail(const std::string& op) { return AutonomyEnvTest::detail("alice", op); }

  testing::FakeActivity activity_;
};

TEST_F(SchedulerTest, IdleTenantIsSuspendedAfterTheThreshold) {
  tick(3);
  EXPECT_EQ(status(), TenantStatus::kActive);
  tick(2);
  EXPECT_EQ(status(), TenantStatus::kSuspended);
  EXPECT_EQ(count("sched.suspend"), 1);
  EXPECT_THAT(detail("sched.suspend"), HasSubstr("idle for"));
  EXPECT_THAT(detail("sched.suspend"), HasSubstr("\"nextWakeAtMs\":null"));
}

TEST_F(SchedulerTest, WithoutIdleSuspendNothingIsSuspended) {
  env_.config.watchdog.idle_suspend = false;
  start(&activity_);
  tick(20);
  EXPECT_EQ(status(), TenantStatus::kActive);
}

TEST_F(SchedulerTest, EachKindOfWorkKeepsTheTenantAwake) {
  auto stays_awake = [&](const char* what) {
    SCOPED_TRACE(what);
    tick(10);
    EXPECT_EQ(status(), TenantStatus::kActive);
  };
  auto hold = health::acquire_hold(env_, "alice", 5'000, actor_);
  ASSERT_THAT(hold, IsOk());
  agent_.inbound = 0;
  {
    // A store hold (exec, configure, logs ...) until it expires, then it is pruned.
    tick(4);
    EXPECT_EQ(status(), TenantStatus::kActive);
    ASSERT_THAT(health::release_hold(env_, "alice", hold->hold.hold_id, actor_), IsOk());
  }
  agent_.cron_running = 1;
  stays_awake("running cron job");
  agent_.cron_running = 0;
  agent_.outbound = 1;
  stays_awake("outbound connection");
  agent_.outbound = 0;
  for (int i = 0; i < 10; ++i) {
    activity_.set("alice", clock_.now_ms());  // a client keeps talking
    tick();
  }
  EXPECT_EQ(status(), TenantStatus::kActive);
  tick(8);
  EXPECT_EQ(status(), TenantStatus::kSuspended);
}

TEST_F(SchedulerTest, ExpiredHoldsArePrunedAndNoLongerCount) {
  ASSERT_THAT(health::acquire_hold(env_, "alice", 2'000, actor_), IsOk());
  agent_.expire_holds();  // the guest's copy: only the store's counts here
  tick(8);
  EXPECT_EQ(status(), TenantStatus::kSuspended);
  EXPECT_TRUE(store_.list_holds("alice")->empty());
}

TEST_F(SchedulerTest, BrokenTenantIsNeverSuspended) {
  vmm_.fail_start = true;  // repairs fail: DEGRADED, then FAILED
  store::Tenant t = *store_.get_tenant("alice");
  auto f = tenant::facts_for(env_, t);
  ASSERT_THAT((*tenant::attach_vm(env_, t, *f))->stop(0), IsOk());
  tick(20);
  EXPECT_EQ(status(), TenantStatus::kActive);
  EXPECT_EQ(count("sched.suspend"), 0);
}

TEST_F(SchedulerTest, CronWakeResumesAheadOfTheJobThenGraceThenSkip) {
  const int64_t job_at = clock_.now_ms() + 60'000;
  agent_.cron_next_run_ms = job_at;
  tick(5);
  ASSERT_EQ(status(), TenantStatus::kSuspended);
  EXPECT_THAT(detail("sched.suspend"), HasSubstr("\"wakeReason\":\"cron\""));
  ASSERT_TRUE(autonomy_->scheduler().armed_wake("alice").has_value());
  EXPECT_EQ(*autonomy_->scheduler().armed_wake("alice"), job_at - 15'000);
  while (clock_.now_ms() < job_at - 15'000 - 1000) tick();
  EXPECT_EQ(status(), TenantStatus::kSuspended);
  tick(2);
  EXPECT_EQ(status(), TenantStatus::kActive);
  EXPECT_EQ(count("sched.resume"), 1);
  EXPECT_THAT(detail("sched.resume"), HasSubstr("\"trigger\":\"cron\""));
  // The guest's cron timers were re-armed in the background.
  tick();
  EXPECT_THAT(agent_.requests(), Contains("poke-cron"));
  // Grace window: idle, but not suspended again before the job could start.
  agent_.cron_next_run_ms = clock_.now_ms() + 25'000;  // the next run, soon after
  tick(12);
  EXPECT_EQ(status(), TenantStatus::kActive);
  // Then the next wake point is already due: the suspend is skipped and says why.
  // (Once that run's time has passed, nothing is due any more and it is suspended.)
  tick(15);
  EXPECT_GE(count("sched.suspend-skipped"), 1);
  EXPECT_THAT(detail("sched.suspend-skipped"), HasSubstr("SUSPEND_SKIPPED"));
}

TEST_F(SchedulerTest, WakeTimersComeBackAfterARestartAndMissedOnesFireAtOnce) {
  agent_.cron_next_run_ms = clock_.now_ms() + 60'000;
  ASSERT_THAT(tenant::suspend(env_, "alice", actor_, nullptr), IsOk());
  // The daemon restarts while no daemon ran past the wake time.
  clock_.advance_ms(120'000);
  start(&activity_);
  tick();
  EXPECT_EQ(status(), TenantStatus::kActive);
  EXPECT_EQ(count("sched.resume"), 1);
}

TEST_F(SchedulerTest, ManualResumeCancelsTheTimer) {
  agent_.cron_next_run_ms = clock_.now_ms() + 600'000;
  ASSERT_THAT(tenant::suspend(env_, "alice", actor_, nullptr), IsOk());
  tick();
  ASSERT_TRUE(autonomy_->scheduler().armed_wake("alice").has_value());
  ASSERT_THAT(service_->resume("alice", actor_), IsOk());
  tick();
  EXPECT_FALSE(autonomy_->scheduler().armed_wake("alice").has_value());
  EXPECT_FALSE(autonomy_->host().has("wake:alice"));
}

}  // namespace
}  // namespace lobster::sched

namespace lobster::sched {
namespace {

// The real ActivitySource of this tree: the guest's count of clients on its gateway port.
TEST_F(SchedulerTest, GuestInboundActivityRemembersWhenClientsWereSeen) {
  GuestInboundActivity guest(*service_);
  EXPECT_EQ(guest.last_client_activity_ms("alice"), std::nullopt);
  agent_.inbound = 2;
  const int64_t seen = clock_.now_ms();
  EXPECT_EQ(guest.last_client_activity_ms("alice"), seen);
  agent_.inbound = 0;
  clock_.advance_ms(5000);
  EXPECT_EQ(guest.last_client_activity_ms("alice"), seen);  // the last time one was seen
  EXPECT_EQ(guest.last_client_activity_ms("nobody"), std::nullopt);
}

// With the guest's view as the activity source, a connected client keeps the tenant awake.
TEST_F(SchedulerTest, ConnectedClientSeenByTheGuestKeepsTheTenantAwake) {
  start();  // GuestInboundActivity
  agent_.inbound = 1;
  tick(10);
  EXPECT_EQ(status(), TenantStatus::kActive);
  agent_.inbound = 0;
  tick(10);
  EXPECT_EQ(status(), TenantStatus::kSuspended);
}

}  // namespace
}  // namespace lobster::sched
