#include "health/state_machine.h"

#include <gtest/gtest.h>

#include "health/repairs.h"

namespace lobster::health {
namespace {

std::vector<CheckResult> healthy() {
  std::vector<CheckResult> r;
  for (auto c : kCheckOrder) r.push_back({std::string(c), true, "ok"});
  return r;
}

std::vector<CheckResult> failing(std::initializer_list<std::string_view> failed) {
  auto r = healthy();
  for (auto& c : r) {
    for (auto f : failed) {
      if (c.check == f)
        c.ok = false;
    }
  }
  return r;
}

TEST(StateMachineTest, UnknownBecomesHealthyOrDegradedWithRepair) {
  StateMachine sm;
  Transition a = sm.observe("a", healthy(), 1);
  EXPECT_EQ(a.from, HealthState::kUnknown);
  EXPECT_EQ(a.to, HealthState::kHealthy);
  EXPECT_FALSE(a.repair);
  Transition b = sm.observe("b", failing({kNetTap}), 1);
  EXPECT_EQ(b.to, HealthState::kDegraded);
  EXPECT_TRUE(b.repair);
  ASSERT_NE(sm.get("b"), nullptr);
  EXPECT_EQ(sm.get("b")->last_check_ms, 1);
  EXPECT_EQ(sm.get("b")->last_results, failing({kNetTap}));
}

TEST(StateMachineTest, RepairedTenantRecoversThenIsHealthyAgain) {
  StateMachine sm;
  sm.observe("a", healthy(), 0);
  EXPECT_TRUE(sm.observe("a", failing({kVmProcess}), 1).repair);
  sm.record_repair("a", 1);
  Transition t = sm.observe("a", healthy(), 2);
  EXPECT_EQ(t.to, HealthState::kRecovering);
  EXPECT_EQ(sm.get("a")->repair_attempts, 1);
  t = sm.observe("a", healthy(), 3);
  EXPECT_EQ(t.to, HealthState::kHealthy);
  EXPECT_EQ(sm.get("a")->repair_attempts, 0);
}

TEST(StateMachineTest, FailedAfterMaxAttemptsAndNoMoreRepairs) {
  StateMachine sm(3);
  for (int i = 0; i < 3; ++i) {
    Transition t = sm.observe("a", failing({kNetGateway}), i);
    EXPECT_EQ(t.to, HealthState::kDegraded);
    EXPECT_TRUE(t.repair);
    sm.record_repair("a", i);
  }
  Transition t = sm.observe("a", failing({kNetGateway}), 10);
  EXPECT_EQ(t.to, HealthState::kFailed);
  EXPECT_FALSE(t.repair);
  t = sm.observe("a", failing({kNetGateway}), 11);
  EXPECT_EQ(t.to, HealthState::kFailed);
  EXPECT_FALSE(t.repair);
  EXPECT_FALSE(t.changed());
  // Only a fix from outside makes the checks pass again.
  t = sm.observe("a", healthy(), 12);
  EXPECT_EQ(t.to, HealthState::kHealthy);
  EXPECT_EQ(sm.get("a")->repair_attempts, 0);
}

TEST(StateMachineTest, FlappingTenantEndsFailedInsteadOfRepairedForever) {
  // Spec §16 item 10: RECOVERING -> DEGRADED must not reset the attempt count.
  StateMachine sm(3);
  int repairs = 0;
  for (int round = 0; round < 20; ++round) {
    Transition t = sm.observe("a", failing({kVmResponsive}), round * 2);
    if (t.repair) {
      ++repairs;
      sm.record_repair("a", round * 2);
    }
    if (t.to == HealthState::kFailed)
      break;
    EXPECT_EQ(sm.observe("a", healthy(), round * 2 + 1).to, HealthState::kRecovering);
  }
  EXPECT_EQ(sm.get("a")->state, HealthState::kFailed);
  EXPECT_EQ(repairs, 3);
}

TEST(StateMachineTest, SuspendedAndCooldownAndForget) {
  StateMachine sm;
  EXPECT_EQ(sm.mark_suspended("a").to, HealthState::kSuspended);
  EXPECT_EQ(sm.observe("a", healthy(), 0).to, HealthState::kHealthy);
  sm.mark_suspended("b");
  Transition t = sm.observe("b", failing({kNetIngress}), 0);
  EXPECT_EQ(t.to, HealthState::kDegraded);
  EXPECT_TRUE(t.repair);
  sm.record_repair("b", 1000);
  EXPECT_TRUE(sm.in_cooldown("b", 60'999, 60'000));
  EXPECT_FALSE(sm.in_cooldown("b", 61'000, 60'000));
  EXPECT_FALSE(sm.in_cooldown("a", 0, 60'000));
  EXPECT_EQ(sm.states().size(), 2u);
  sm.forget("b");
  EXPECT_EQ(sm.get("b"), nullptr);
  EXPECT_EQ(state_name(HealthState::kRecovering), "RECOVERING");
}

TEST(RepairPlanTest, MapsChecksToDeduplicatedRepairsInDependencyOrder) {
  EXPECT_TRUE(plan_repairs(healthy()).empty());
  EXPECT_EQ(plan_repairs(failing({kVmProcess})), std::vector<RepairKind>{RepairKind::kRestartVm});
  EXPECT_EQ(plan_repairs(failing({kVmResponsive, kNetGateway})),
            std::vector<RepairKind>{RepairKind::kEnsureGateway});
  EXPECT_EQ(plan_repairs(failing({kNetIngress})),
            std::vector<RepairKind>{RepairKind::kRestartIngress});
  // A re-created TAP is a new device: the VM must restart too, after the network exists.
  EXPECT_EQ(plan_repairs(failing({kNetTap})),
            (std::vector<RepairKind>{RepairKind::kRecreateNetwork, RepairKind::kRestartVm}));
  EXPECT_EQ(plan_repairs(failing({kVmProcess, kVmResponsive, kNetTap, kNetGateway, kNetIngress})),
            (std::vector<RepairKind>{RepairKind::kRecreateNetwork, RepairKind::kRestartVm,
                                     RepairKind::kEnsureGateway, RepairKind::kRestartIngress}));
  EXPECT_EQ(repair_name(RepairKind::kRestartVm), "vm.restart");
}

}  // namespace
}  // namespace lobster::health
