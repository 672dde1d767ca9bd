// molt, checks, repairs, tank and holds against the in-memory fakes (store, links, firewall,
// VMM, proxy), a cgroupfs in a temp dir, real ssh-keygen/dropbearkey (spawn) and a loopback
// stand-in for the guest agent. Each test breaks one thing and checks the resulting state.
#include "health/molt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "health/holds.h"
#include "image/config_disk.h"
#include "tenant/spawn.h"
#include "tenant/testing/fake_env_test.h"

namespace lobster::health {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> names(const std::vector<CheckResult>& r) { return failed_checks(r); }

class MoltTest : public tenant::testing::FakeEnvTest {
 protected:
  void SetUp() override {
    FakeEnvTest::SetUp();
    if (HasFatalFailure())
      return;
    auto r = tenant::spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
    ASSERT_THAT(r, IsOk());
  }

  store::Tenant alice() { return *store_.get_tenant("alice"); }

  void kill_vm() {
    store::Tenant t = alice();
    auto f = tenant::facts_for(env_, t);
    auto vm = tenant::attach_vm(env_, t, *f);
    ASSERT_THAT(vm, IsOk());
    ASSERT_THAT((*vm)->stop(0), IsOk());
  }

  Result<MoltResult> molt_alice(std::vector<std::string>* phases = nullptr) {
    return molt(env_, "alice", actor_, [phases](std::string_view phase, std::string_view detail) {
      if (phases)
        phases->push_back(std::string(phase) + ":" + std::string(detail));
    });
  }
};

TEST_F(MoltTest, HealthyTenantIsAlreadyHealthy) {
  auto checks = run_checks(env_, alice());
  ASSERT_EQ(checks.size(), kCheckOrder.size());
  EXPECT_TRUE(all_ok(checks)) << to_json(checks[0]).dump();
  std::vector<std::string> phases;
  auto r = molt_alice(&phases);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->healthy);
  EXPECT_TRUE(r->repairs.empty());
  EXPECT_EQ(phases.back(), "done:Already healthy");
  nlohmann::json j = to_json(*r);
  EXPECT_EQ(j["tenant"], "alice");
  EXPECT_EQ(j["initialChecks"][0]["check"], "vm.process");
  EXPECT_EQ(j["initialChecks"][0]["status"], "ok");
  EXPECT_EQ(j["finalChecks"].size(), kCheckOrder.size());
}

TEST_F(MoltTest, DeadVmIsColdBootedWithItsOverlayAndTheTokenReinjected) {
  int64_t old_pid = alice().vm->pid;
  kill_vm();
  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(names(r->initial_checks), Contains("vm.process"));
  ASSERT_FALSE(r->repairs.empty());
  EXPECT_EQ(r->repairs[0].repair, "vm.restart");
  EXPECT_TRUE(r->repairs[0].fixed) << nlohmann::json(r->repairs[0].actions).dump();
  EXPECT_TRUE(r->healthy);
  ASSERT_TRUE(alice().vm.has_value());
  EXPECT_NE(alice().vm->pid, old_pid);
  ASSERT_EQ(vmm_.running(), 1u);
  auto spec = vmm_.vms().begin()->second.spec;
  EXPECT_EQ(spec.drives[1].path,
            tenant::facts_for(env_, alice())->files.overlay);  // the tenant's existing disk
  ASSERT_FALSE(agent_.secrets().empty());
  EXPECT_EQ(agent_.secrets().back()["OPENCLAW_GATEWAY_TOKEN"], alice().gateway_token);
}

TEST_F(MoltTest, OutdatedOpenClawSettingsAreRewrittenAndPushedLive) {
  // A tenant made before lobsterd managed proxy trust: its config disk lacks trustedProxies.
  auto f = tenant::facts_for(env_, alice());
  auto disk = image::decode_config_disk(*fs::read_file(f->files.config_disk));
  ASSERT_THAT(disk, IsOk());
  EXPECT_EQ(disk->openclaw_config["gateway"]["trustedProxies"],
            nlohmann::json::array({f->subnet.host.to_string()}));
  disk->openclaw_config["gateway"].erase("trustedProxies");
  ASSERT_THAT(image::write_config_disk(f->files.config_disk, *disk), IsOk());

  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(names(r->initial_checks), std::vector<std::string>{"gateway.config"});
  ASSERT_EQ(r->repairs.size(), 1u);
  EXPECT_EQ(r->repairs[0].repair, "gateway.sync-config");
  EXPECT_TRUE(r->repairs[0].fixed) << nlohmann::json(r->repairs[0].actions).dump();
  EXPECT_TRUE(r->healthy);
  auto fixed = image::decode_config_disk(*fs::read_file(f->files.config_disk));
  ASSERT_THAT(fixed, IsOk());
  EXPECT_EQ(fixed->openclaw_config["gateway"]["trustedProxies"],
            nlohmann::json::array({f->subnet.host.to_string()}));
  EXPECT_EQ(fixed->agent_token, disk->agent_token);  // the rest of the disk is kept
  // The running guest got the same settings.
  ASSERT_FALSE(agent_.secrets().empty());
  EXPECT_EQ(nlohmann::json::parse(agent_.secrets().back()["OPENCLAW_CONFIG"].get<std::string>()),
            fixed->openclaw_config);
}

TEST_F(MoltTest, ColdBootThatDiesWhileBootingIsRetriedOnce) {
  kill_vm();
  vmm_.exit_during_boot = 1;
  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->healthy);
  ASSERT_EQ(vmm_.running(), 1u);
  EXPECT_EQ(alice().vm->pid, vmm_.vms().begin()->first);
}

TEST_F(MoltTest, MissingTapGetsTapRulesAndANewVm) {
  int64_t old_pid = alice().vm->pid;
  auto f = tenant::facts_for(env_, alice());
  ASSERT_THAT(links_.delete_link(f->tap), IsOk());
  ASSERT_THAT(firewall_.remove_tenant(f->net), IsOk());
  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(names(r->initial_checks), std::vector<std::string>{"net.tap"});
  ASSERT_EQ(r->repairs.size(), 2u);
  EXPECT_EQ(r->repairs[0].repair, "net.recreate-tap");
  EXPECT_TRUE(r->repairs[0].fixed);
  EXPECT_EQ(r->repairs[1].repair, "vm.restart");
  EXPECT_TRUE(r->repairs[1].fixed);
  EXPECT_TRUE(r->healthy);
  auto link = links_.get_link(f->tap);
  ASSERT_THAT(link, IsOk());
  EXPECT_TRUE(link->has_value());
  // The complete rule set is back, lockdown included.
  EXPECT_TRUE(firewall_.installed().contains(f->net.tap_id));
  EXPECT_NE(alice().vm->pid, old_pid);
}

TEST_F(MoltTest, MissingRouteIsReadded) {
  ASSERT_THAT(proxy_.remove_tenant("alice"), IsOk());
  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(names(r->initial_checks), std::vector<std::string>{"net.caddy-route"});
  EXPECT_THAT(r->initial_checks[5].message, HasSubstr("lobster-alice"));
  ASSERT_EQ(r->repairs.size(), 1u);
  EXPECT_EQ(r->repairs[0].repair, "proxy.readd-routes");
  EXPECT_TRUE(r->healthy);
  ASSERT_EQ(proxy_.routes().size(), 1u);
  EXPECT_EQ(proxy_.routes()[0].upstream, "10.0.0.6:9000");
}

TEST_F(MoltTest, StoppedGatewayIsEnsured) {
  agent_.gateway = false;
  std::vector<std::string> phases;
  auto r = molt_alice(&phases);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(names(r->initial_checks), std::vector<std::string>{"net.gateway"});
  ASSERT_EQ(r->repairs.size(), 1u);
  EXPECT_EQ(r->repairs[0].repair, "gateway.ensure");
  EXPECT_THAT(r->repairs[0].actions, ElementsAre(HasSubstr("Launched the gateway")));
  EXPECT_TRUE(r->healthy);
  EXPECT_THAT(phases, Contains("repairing:1 issue(s) found"));
  EXPECT_EQ(phases.back(), "done:Healthy");
}

TEST_F(MoltTest, FailedRepairIsReportedNotThrown) {
  kill_vm();
  vmm_.fail_start = true;
  std::vector<std::string> phases;
  auto r = molt_alice(&phases);
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->healthy);
  ASSERT_FALSE(r->repairs.empty());
  EXPECT_FALSE(r->repairs[0].fixed);
  EXPECT_THAT(r->repairs[0].actions.back(), HasSubstr("error: "));
  EXPECT_THAT(names(r->final_checks), Contains("vm.process"));
  EXPECT_EQ(phases.back(), "done:Still degraded");
  EXPECT_EQ(to_json(*r)["repairs"][0]["fixed"], false);
}

TEST_F(MoltTest, UnresponsiveAgentFailsBothGuestChecks) {
  agent_.responsive = false;
  auto checks = run_checks(env_, alice());
  EXPECT_EQ(names(checks), (std::vector<std::string>{"vm.responsive", "net.gateway"}));
  EXPECT_EQ(plan_repairs(checks), std::vector<RepairKind>{RepairKind::kEnsureGateway});
}

TEST_F(MoltTest, SuspendedTenantIsResumedFirst) {
  ASSERT_THAT(store_.update_tenant(
                  "alice", {.status = store::TenantStatus::kSuspended, .clear_vm = true}, actor_),
              IsOk());
  auto skipped = run_checks(env_, alice());
  EXPECT_TRUE(all_ok(skipped));
  EXPECT_THAT(skipped[0].message, HasSubstr("Skipped"));
  auto r = molt_alice();
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->resumed);
  EXPECT_TRUE(r->healthy);
  EXPECT_EQ(alice().status, store::TenantStatus::kActive);
}

TEST_F(MoltTest, RefusesTenantsBeingRemovedAndUnknownOnes) {
  EXPECT_THAT(molt(env_, "bob", actor_, nullptr), HasError(ErrorCode::kTenantNotFound));
  ASSERT_THAT(store_.update_tenant("alice", {.status = store::TenantStatus::kRemoving}, actor_),
              IsOk());
  EXPECT_THAT(molt_alice(), HasError(ErrorCode::kValidationFailed));
}

TEST_F(MoltTest, TankReportsStatesFromTheSameChecks) {
  auto rows = tank(env_);
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].state, "HEALTHY");
  ASSERT_THAT(proxy_.remove_tenant("alice"), IsOk());
  rows = tank(env_);
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ((*rows)[0].state, "DEGRADED");
  ASSERT_EQ((*rows)[0].failed_checks.size(), 1u);
  EXPECT_EQ((*rows)[0].failed_checks[0].first, "net.caddy-route");
}

TEST_F(MoltTest, HoldsAreStoredForwardedRenewedAndReleased) {
  auto h = acquire_hold(env_, "alice", kHoldTtlMs, actor_);
  ASSERT_THAT(h, IsOk());
  EXPECT_EQ(h->hold.hold_id.size(), 36u);  // UUID text
  EXPECT_TRUE(h->guest_notified);
  EXPECT_EQ(h->hold.expires_at_ms, clock_.now_ms() + kHoldTtlMs);
  EXPECT_THAT(agent_.holds(), Contains(h->hold.hold_id));
  auto listed = store_.list_holds("alice");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);

  clock_.advance_ms(kHoldKeepaliveMs);
  auto kept = keep_hold(env_, "alice", h->hold.hold_id, kHoldTtlMs, actor_);
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->hold.expires_at_ms, clock_.now_ms() + kHoldTtlMs);
  EXPECT_EQ(store_.list_holds("alice")->size(), 1u);

  auto released = release_hold(env_, "alice", h->hold.hold_id, actor_);
  ASSERT_THAT(released, IsOk());
  EXPECT_TRUE(*released);
  EXPECT_TRUE(store_.list_holds("alice")->empty());
  EXPECT_TRUE(agent_.holds().empty());
  EXPECT_THAT(release_hold(env_, "alice", h->hold.hold_id, actor_), IsOk());  // idempotent

  EXPECT_THAT(acquire_hold(env_, "bob", kHoldTtlMs, actor_), HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(acquire_hold(env_, "alice", 0, actor_), HasError(ErrorCode::kValidationFailed));
}

TEST_F(MoltTest, HoldOnAnUnreachableGuestIsStillStored) {
  agent_.responsive = false;
  auto h = acquire_hold(env_, "alice", kHoldTtlMs, actor_);
  ASSERT_THAT(h, IsOk());
  EXPECT_FALSE(h->guest_notified);
  EXPECT_EQ(store_.list_holds("alice")->size(), 1u);
}

}  // namespace
}  // namespace lobster::health
