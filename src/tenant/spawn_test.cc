// spawn / evict against in-memory fakes (store, links, firewall, VMM, proxy), a cgroupfs in a
// temp dir, real ssh-keygen/dropbearkey and a loopback stand-in for the guest agent. Every
// spawn step gets a failure injected after it took effect; each must leave zero residue.
#include "tenant/spawn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "image/config_disk.h"
#include "tenant/boot.h"
#include "tenant/evict.h"
#include "tenant/recover.h"
#include "tenant/suspend.h"
#include "tenant/testing/fake_env_test.h"

namespace lobster::tenant {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

class SpawnTest : public testing::FakeEnvTest {
 protected:
  // Files (not directories) left under the state root, plus every fake's state.
  std::vector<std::string> residue() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      if (!it->is_directory())
        out.push_back(it->path().string());
      // A directory named after a tenant is residue too.
      if (it->is_directory() && it->path().filename() == "alice") {
        out.push_back(it->path().string());
      }
    }
    auto tenants = store_.list_tenants();
    if (tenants && !tenants->empty())
      out.push_back("store row " + (*tenants)[0].name);
    auto links = links_.list_links("lt");
    if (links && !links->empty())
      out.push_back("link " + (*links)[0].name);
    if (!firewall_.installed().empty())
      out.push_back("firewall rules");
    if (vmm_.running() != 0)
      out.push_back("vm");
    if (!proxy_.routes().empty())
      out.push_back("route");
    if (!std::filesystem::is_empty(cgroup_parent(), ec) && !ec) {
      for (const auto& e : std::filesystem::directory_iterator(cgroup_parent())) {
        if (e.is_directory())
          out.push_back("cgroup " + e.path().filename().string());
      }
    }
    return out;
  }
};

TEST_F(SpawnTest, SpawnThenEvictLeavesNothing) {
  std::vector<std::string> seen;
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_,
                 [&](std::string_view step, std::string_view) { seen.emplace_back(step); });
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(seen, (std::vector<std::string>{"record", "ssh", "overlay", "config-disk", "network",
                                            "vm", "agent", "proxy", "activate"}));
  EXPECT_EQ(r->tenant.status, store::TenantStatus::kActive);
  EXPECT_EQ(r->guest_ip, "10.0.0.6");
  EXPECT_EQ(r->url, "https://alice.lobster.localhost");
  ASSERT_EQ(proxy_.routes().size(), 1u);
  EXPECT_EQ(proxy_.routes()[0].upstream, "10.0.0.6:9000");
  EXPECT_EQ(vmm_.running(), 1u);
  auto vm = vmm_.vms().begin()->second.spec;
  EXPECT_EQ(vm.net->tap_name, "lt1");
  EXPECT_EQ(vm.cmdline.find(r->tenant.agent_token), std::string::npos);  // no secrets on cmdline
  ASSERT_EQ(vm.drives.size(), 3u);
  EXPECT_TRUE(vm.drives[0].read_only);
  EXPECT_FALSE(vm.drives[1].read_only);

  TenantFiles f = files_for(paths_, env_.config.jailer.chroot_base_dir,
                            env_.config.overlay.base_dir, "alice", 1);
  struct stat st {};
  ASSERT_EQ(::stat(f.ssh_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(f.config_disk.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto known = fs::read_file(f.known_hosts);
  ASSERT_THAT(known, IsOk());
  EXPECT_THAT(*known, ::testing::StartsWith("10.0.0.6 ssh-ed25519 "));
  auto disk = image::decode_config_disk(*fs::read_file(f.config_disk));
  ASSERT_THAT(disk, IsOk());
  EXPECT_EQ(disk->agent_token, r->tenant.agent_token);
  EXPECT_EQ(disk->address, "10.0.0.6");
  EXPECT_EQ(disk->gateway, "10.0.0.5");
  EXPECT_THAT(disk->ssh_authorized_key, ::testing::StartsWith("ssh-ed25519 "));
  EXPECT_FALSE(disk->ssh_host_key.empty());
  EXPECT_EQ(disk->openclaw_config["gateway"]["auth"]["token"], r->tenant.gateway_token);
  EXPECT_EQ(disk->openclaw_config["gateway"]["customBindHost"], "0.0.0.0");

  EXPECT_THAT(spawn(env_, {.name = "alice"}, actor_, nullptr), HasError(ErrorCode::kTenantExists));
  EXPECT_EQ(vmm_.running(), 1u);  // the existing tenant is untouched

  ASSERT_THAT(evict(env_, "alice", actor_, nullptr), IsOk());
  EXPECT_THAT(residue(), ::testing::IsEmpty());
  EXPECT_THAT(evict(env_, "alice", actor_, nullptr), HasError(ErrorCode::kTenantNotFound));
}

TEST_F(SpawnTest, FailureAfterEveryStepLeavesZeroResidue) {
  for (const char* step :
       {"record", "ssh", "overlay", "config-disk", "network", "vm", "agent", "proxy", "activate"}) {
    SCOPED_TRACE(step);
    env_.fail_after_step_for_test = step;
    auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
    ASSERT_THAT(r, HasError(ErrorCode::kInternal));
    EXPECT_THAT(r.error().message, HasSubstr(std::string("step ") + step));
    EXPECT_THAT(residue(), ::testing::IsEmpty());
  }
  env_.fail_after_step_for_test.clear();
  EXPECT_THAT(spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr), IsOk());
}

TEST_F(SpawnTest, UnreachableAgentRollsBack) {
  env_.agent_endpoint = [](const std::string&) { return agent::Endpoint{"127.0.0.1", 1, 1}; };
  env_.agent_wait_ms = 600;
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, HasError(ErrorCode::kVsockConnectFailed));
  EXPECT_THAT(r.error().message, HasSubstr("step agent"));
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

TEST_F(SpawnTest, AgentTimeoutShowsTheEndOfTheGuestConsole) {
  // The console log goes with the rolled-back tenant, so the error keeps its last lines.
  env_.agent_endpoint = [](const std::string&) { return agent::Endpoint{"127.0.0.1", 1, 1}; };
  env_.agent_wait_ms = 300;
  vmm_.console_output = "[    0.55] early line\n[   28.41] watchdog: BUG: soft lockup - CPU#1\n";
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, HasError(ErrorCode::kVsockConnectFailed));
  EXPECT_THAT(r.error().detail, HasSubstr("console.log"));
  EXPECT_THAT(r.error().detail, HasSubstr("soft lockup - CPU#1"));
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

TEST_F(SpawnTest, AGuestThatDiesWhileBootingIsBootedOnceMore) {
  vmm_.exit_during_boot = 1;
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(vmm_.starts, 2);
  ASSERT_EQ(vmm_.running(), 1u);
  // The store records the second VMM, the one that runs.
  auto t = store_.get_tenant("alice");
  ASSERT_THAT(t, IsOk());
  ASSERT_TRUE(t->vm.has_value());
  EXPECT_EQ(t->vm->pid, vmm_.vms().begin()->first);
}

TEST_F(SpawnTest, AGuestThatDiesOnEveryBootRollsBackWithTheConsoleTail) {
  vmm_.exit_during_boot = kBootAttempts;
  vmm_.console_output = "[   28.41] watchdog: BUG: soft lockup - CPU#1 stuck for 26s!\n";
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, HasError(ErrorCode::kVmBootFailed));
  EXPECT_THAT(r.error().message, HasSubstr("step agent"));
  EXPECT_THAT(r.error().detail, HasSubstr("soft lockup"));
  EXPECT_EQ(vmm_.starts, kBootAttempts);
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

TEST_F(SpawnTest, BootFailureRollsBack) {
  vmm_.fail_start = true;
  auto r = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, HasError(ErrorCode::kVmBootFailed));
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

TEST_F(SpawnTest, BadNamesAreRejectedBeforeAnyEffect) {
  for (const char* bad : {"", "Alice", "1abc", "a_b", "abc-", "a.b",
                          "a123456789012345678901234567890123456789012345678901234567890123"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(spawn(env_, {.name = bad}, actor_, nullptr),
                HasError(ErrorCode::kValidationFailed));
  }
  EXPECT_THAT(residue(), ::testing::IsEmpty());
  // 63 characters is fine, and the TAP name stays short.
  std::string longest = "a" + std::string(62, 'b');
  auto r = spawn(env_, {.name = longest, .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(vmm_.vms().begin()->second.spec.net->tap_name, "lt1");
}

TEST_F(SpawnTest, ProfileSizesGuestsItsOwnWayAndRefusesTooLittleMemory) {
  // Too small for OpenClaw: refused before any effect, with the profile's minimum.
  auto small = spawn(env_, {.name = "o1", .profile = "openclaw", .mem_mb = 256}, actor_, nullptr);
  ASSERT_THAT(small, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(small.error().message, ::testing::HasSubstr("at least 1536 MiB"));
  EXPECT_THAT(residue(), ::testing::IsEmpty());
  EXPECT_THAT(spawn(env_, {.name = "x1", .profile = "nosuch"}, actor_, nullptr),
              HasError(ErrorCode::kValidationFailed));
  // No --mem/--vcpus: OpenClaw gets what it needs, the minimal profile the config's defaults.
  auto o = spawn(env_, {.name = "o2", .profile = "openclaw"}, actor_, nullptr);
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->tenant.mem_mb, 2048);
  EXPECT_EQ(o->tenant.vcpus, 2);
  auto m = spawn(env_, {.name = "m1", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->tenant.mem_mb, env_.config.firecracker.default_mem_size_mb);
  EXPECT_EQ(m->tenant.vcpus, env_.config.firecracker.default_vcpu_count);
}

TEST_F(SpawnTest, RecoverTearsDownUnfinishedSpawn) {
  // A daemon killed mid-spawn leaves a "creating" row plus effects; recover removes them all.
  env_.fail_after_step_for_test = "proxy";
  store::NewTenant nt{.name = "alice",
                      .profile = "minimal",
                      .vcpus = 1,
                      .mem_mb = 256,
                      .agent_token = "a",
                      .gateway_token = "g"};
  auto t = store_.create_tenant(nt, {.max_subnet_index = 100, .uid_start = 10000}, actor_);
  ASSERT_THAT(t, IsOk());
  auto f = facts_for(env_, *t);
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT(fs::ensure_dir(f->files.ssh_dir, 0700), IsOk());
  ASSERT_THAT(links_.ensure_tap(
                  {.name = f->tap, .owner_uid = 0, .owner_gid = 0, .address = f->subnet.host}),
              IsOk());
  ASSERT_THAT(proxy_.add_tenant({"alice", "10.0.0.6:9000"}), IsOk());
  auto report = recover(env_);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->removed, std::vector<std::string>{"alice"});
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

TEST_F(SpawnTest, SuspendResumeAndEvictSuspended) {
  ASSERT_THAT(spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr), IsOk());
  EXPECT_THAT(resume(env_, "alice", actor_, nullptr), HasError(ErrorCode::kResumeFailed));
  auto s = suspend(env_, "alice", actor_, nullptr);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->tenant.status, store::TenantStatus::kSuspended);
  EXPECT_FALSE(s->tenant.vm.has_value());
  EXPECT_EQ(vmm_.running(), 0u);  // suspend frees the VM
  EXPECT_EQ(nlohmann::json::parse(s->tenant.suspend_info)["snapshotDir"],
            paths_.snapshots_dir() + "/alice");
  EXPECT_EQ(proxy_.routes().size(), 1u);  // the route stays
  auto again = suspend(env_, "alice", actor_, nullptr);
  ASSERT_THAT(again, HasError(ErrorCode::kSuspendFailed));
  EXPECT_THAT(again.error().message, HasSubstr("status: suspended"));

  auto r = resume(env_, "alice", actor_, nullptr);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->tenant.status, store::TenantStatus::kActive);
  EXPECT_EQ(vmm_.running(), 1u);
  EXPECT_TRUE(r->tenant.suspend_info.empty());

  ASSERT_THAT(suspend(env_, "alice", actor_, nullptr), IsOk());
  ASSERT_THAT(evict(env_, "alice", actor_, nullptr), IsOk());
  EXPECT_THAT(residue(), ::testing::IsEmpty());
}

std::vector<std::string> names_of(const std::vector<Phase>& phases) {
  std::vector<std::string> names;
  for (const auto& p : phases) names.push_back(p.name);
  return names;
}

TEST_F(SpawnTest, OperationsReportTheDurationOfEachPhase) {
  env_.create_overlay = [this](const std::string& path, int64_t) {
    clock_.advance_ms(7);
    return fs::write_file_atomic(path, "overlay", 0600);
  };
  auto resolve = env_.image_for;
  env_.image_for = [this, resolve](const std::string& profile) {
    clock_.advance_ms(3);
    return resolve(profile);
  };
  auto s = spawn(env_, {.name = "alice", .profile = "minimal"}, actor_, nullptr);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(names_of(s->phases),
            (std::vector<std::string>{"image", "record", "ssh", "overlay", "config-disk", "network",
                                      "vm", "agent", "proxy", "activate"}));
  EXPECT_EQ(s->phases[0].ms, 3);  // image
  EXPECT_EQ(s->phases[1].ms, 0);  // record
  EXPECT_EQ(s->phases[3].ms, 7);  // overlay

  auto sus = suspend(env_, "alice", actor_, nullptr);
  ASSERT_THAT(sus, IsOk());
  EXPECT_EQ(names_of(sus->phases), (std::vector<std::string>{"schedules", "record", "snapshot",
                                                             "stop", "cgroup", "finish"}));
  auto res = resume(env_, "alice", actor_, nullptr);
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(names_of(res->phases),
            (std::vector<std::string>{"record", "restore", "agent", "clock", "finish"}));
}

TEST(PlanWakeTest, EarliestFutureRunMinusLead) {
  std::vector<agent::CronSchedule> cron = {
      {"a", "a", 50'000, nullptr}, {"b", "b", 40'000, nullptr}, {"past", "p", 1'000, nullptr}};
  WakePlan p = plan_wake(cron, std::nullopt, 10'000, 15'000);
  ASSERT_TRUE(p.next_wake_at_ms.has_value());
  EXPECT_EQ(*p.next_wake_at_ms, 25'000);
  EXPECT_EQ(p.reason, "cron");
  agent::HeartbeatSchedule hb{true, 60'000, 30'000};
  p = plan_wake(cron, hb, 10'000, 15'000);
  EXPECT_EQ(*p.next_wake_at_ms, 15'000);
  EXPECT_EQ(p.reason, "heartbeat");
  hb.enabled = false;
  EXPECT_EQ(plan_wake({}, hb, 10'000, 15'000).next_wake_at_ms, std::nullopt);
  // A run exactly at "now" is not in the future.
  EXPECT_EQ(plan_wake({{"n", "n", 10'000, nullptr}}, std::nullopt, 10'000, 0).next_wake_at_ms,
            std::nullopt);
}

}  // namespace
}  // namespace lobster::tenant
