// The watchdog and the VMM-exit handling against the in-memory fakes (store, links, firewall,
// VMM, proxy), a cgroupfs in a temp dir and a loopback stand-in for the guest agent, driven by
// a FakeClock through the LoopHost's test driver: no threads, no sleeps.
#include "sched/autonomy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"
#include "health/molt.h"
#include "sched/testing/autonomy_env_test.h"
#include "tenant/suspend.h"

namespace lobster::sched {
namespace {

using health::HealthState;
using ::lobster::testing::IsOk;
using ::testing::Contains;
using ::testing::HasSubstr;

class AutonomyTest : public testing::AutonomyEnvTest {
 protected:
  void SetUp() override {
    AutonomyEnvTest::SetUp();
    if (!HasFatalFailure())
      set_up_fleet({"alice", "bob"});
  }
  HealthState state(const std::string& name) {
    auto h = autonomy_->watchdog().health(name);
    return h ? h->state : HealthState::kUnknown;
  }
};

TEST_F(AutonomyTest, FirstTickRunsAtOnceAndFindsHealthyTenants) {
  tick();
  EXPECT_EQ(state("alice"), HealthState::kHealthy);
  EXPECT_EQ(state("bob"), HealthState::kHealthy);
  EXPECT_THAT(audit_ops("alice"), Contains("watchdog.state-change"));
}

TEST_F(AutonomyTest, DeadVmIsRepairedAndTheNeighbourIsUntouched) {
  tick();
  store::Tenant bob_before = get("bob");
  int64_t alice_pid = get("alice").vm->pid;
  kill_vm("alice");
  tick();  // DEGRADED, repaired at once
  EXPECT_EQ(state("alice"), HealthState::kDegraded);
  ASSERT_TRUE(get("alice").vm.has_value());
  EXPECT_NE(get("alice").vm->pid, alice_pid);
  EXPECT_EQ(vmm_.running(), 2u);
  tick();
  EXPECT_EQ(state("alice"), HealthState::kRecovering);
  tick();
  EXPECT_EQ(state("alice"), HealthState::kHealthy);
  EXPECT_EQ(get("bob").vm, bob_before.vm);
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 1);
  EXPECT_THAT(audit_ops("alice"), Contains("watchdog.repair"));
  EXPECT_EQ(count("bob", "watchdog.repair-start"), 0);
}

TEST_F(AutonomyTest, TenantThatKeepsFailingEndsFailedAndIsLeftAloneUntilReset) {
  tick();
  kill_vm("alice");
  vmm_.fail_start = true;  // every restart fails
  for (int i = 0; i < 6; ++i) tick();
  EXPECT_EQ(state("alice"), HealthState::kFailed);
  EXPECT_EQ(autonomy_->watchdog().health("alice")->repair_attempts, 2);
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 2);  // maxRepairAttempts rounds, then no more
  for (int i = 0; i < 5; ++i) tick();
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 2);
  // tank shows it.
  auto rows =
      health::tank(env_, [&](const std::string& n) { return autonomy_->watchdog().health(n); });
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ((*rows)[0].name, "alice");
  EXPECT_EQ((*rows)[0].state, "FAILED");
  EXPECT_EQ(tenant::to_json((*rows)[0])["watchdog"]["state"], "FAILED");
  // After molt (here: the operator's reset) it is watched and repaired again.
  vmm_.fail_start = false;
  autonomy_->watchdog().reset("alice");
  tick();
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 3);
  tick();
  tick();
  EXPECT_EQ(state("alice"), HealthState::kHealthy);
  EXPECT_EQ(state("bob"), HealthState::kHealthy);
}

TEST_F(AutonomyTest, FlushedRulesFailTheFirewallCheckAndAreRestoredWithoutAVmRestart) {
  tick();
  int64_t pid = get("alice").vm->pid;
  firewall_.flush_for_test();
  auto checks = health::run_checks(env_, get("alice"));
  EXPECT_THAT(health::failed_checks(checks), Contains("net.firewall"));
  tick();
  EXPECT_TRUE(firewall_.base_ready());
  EXPECT_EQ(firewall_.installed().size(), 2u);  // both tenants: each repaired its own rules
  EXPECT_EQ(get("alice").vm->pid, pid);         // the VM was not restarted for rules
  tick();
  tick();
  EXPECT_EQ(state("alice"), HealthState::kHealthy);
}

TEST_F(AutonomyTest, TapRecreatedAtStartRestartsTheRunningVm) {
  int64_t pid = get("alice").vm->pid;
  autonomy_->watchdog().tap_recreated("alice");
  tick();
  EXPECT_NE(get("alice").vm->pid, pid);
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 1);
  EXPECT_EQ(count("bob", "watchdog.repair-start"), 0);
}

TEST_F(AutonomyTest, CooldownSkipsTheTenantEntirely) {
  env_.config.watchdog.repair_cooldown_ms = 60'000;
  start();
  tick();
  kill_vm("alice");
  vmm_.fail_start = true;
  tick();  // repair 1 (fails)
  for (int i = 0; i < 30; ++i) tick();
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 1);
  for (int i = 0; i < 31; ++i) tick();
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 2);
}

TEST_F(AutonomyTest, TenantWithAnOperationInFlightIsNotTouched) {
  tick();
  kill_vm("alice");
  {
    OpHolder snap(*service_, "alice", "snap");
    EXPECT_EQ(service_->in_flight("alice"), "snap");
    tick();
    EXPECT_EQ(count("alice", "watchdog.repair-start"), 0);
    EXPECT_EQ(state("alice"), HealthState::kHealthy);  // not even checked
  }
  tick();
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 1);
}

TEST_F(AutonomyTest, SuspendedTenantIsSuspendedNotChecked) {
  tick();
  ASSERT_THAT(tenant::suspend(env_, "bob", actor_, nullptr), IsOk());
  tick();
  EXPECT_EQ(state("bob"), HealthState::kSuspended);
  EXPECT_EQ(count("bob", "watchdog.repair-start"), 0);
}

TEST_F(AutonomyTest, UnexpectedVmExitIsOneEventDegradedAtOnceAndRepairedNext) {
  tick();
  store::Tenant alice = get("alice");
  kill_vm("alice");
  VmExit exit;
  exit.tenant = "alice";
  exit.vm = *alice.vm;
  exit.reaped = true;
  exit.signal = 9;
  exit.oom_kills = 1;
  autonomy_->on_exit(exit);
  autonomy_->host().run_due_for_test();  // the exit, then the poked watchdog tick
  auto events = *store_.recent_audit(100, "alice");
  auto exited = std::find_if(events.begin(), events.end(),
                             [](const auto& e) { return e.operation == "vm.exited"; });
  ASSERT_NE(exited, events.end());
  EXPECT_EQ(exited->outcome, "VMM_FAILED");
  EXPECT_THAT(exited->detail, HasSubstr("OOM-killed"));
  EXPECT_EQ(count("alice", "vm.exited"), 1);
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 1);
  EXPECT_NE(get("alice").vm->pid, alice.vm->pid);
}

TEST_F(AutonomyTest, ExitOfAVmTheStoreNoLongerRecordsIsNotNews) {
  tick();
  store::Tenant bob = get("bob");
  ASSERT_THAT(tenant::suspend(env_, "bob", actor_, nullptr), IsOk());
  VmExit exit;
  exit.tenant = "bob";
  exit.vm = *bob.vm;
  autonomy_->on_exit(exit);
  autonomy_->host().run_due_for_test();
  EXPECT_EQ(count("bob", "vm.exited"), 0);
}

TEST_F(AutonomyTest, ExitDuringAnOperationIsJudgedAfterIt) {
  tick();
  store::Tenant alice = get("alice");
  {
    OpHolder snap(*service_, "alice", "snap");
    kill_vm("alice");
    VmExit exit;
    exit.tenant = "alice";
    exit.vm = *alice.vm;
    autonomy_->on_exit(exit);
    autonomy_->host().run_due_for_test();
    EXPECT_EQ(count("alice", "vm.exited"), 0);  // deferred
  }
  clock_.advance_ms(500);
  autonomy_->host().run_due_for_test();
  EXPECT_EQ(count("alice", "vm.exited"), 1);  // the store still records that VMM
}

TEST_F(AutonomyTest, DisabledWatchdogRunsNoTick) {
  env_.config.watchdog.enabled = false;
  start();
  kill_vm("alice");
  tick();
  EXPECT_FALSE(autonomy_->host().has("watchdog"));
  EXPECT_EQ(count("alice", "watchdog.repair-start"), 0);
}

}  // namespace
}  // namespace lobster::sched
