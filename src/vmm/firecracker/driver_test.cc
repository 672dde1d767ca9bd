// Runs the real FirecrackerDriver against lobster_fake_firecracker (a stand-in for jailer +
// Firecracker that validates every request against the official swagger), as an unprivileged
// user: the jail uid/gid are our own.
#include "vmm/firecracker/driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "host/process/process.h"
#include "vmm/firecracker/jail_process.h"
#include "vmm/firecracker/testing/fake_firecracker.h"

namespace lobster::vmm::firecracker {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using nlohmann::json;
using ::testing::HasSubstr;

// Gone = no /proc entry, or a zombie waiting for init (it can no longer run or hold memory).

class FirecrackerDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake, like the jailer with --new-pid-ns, leaves an orphan VMM process. As a subreaper
    // this test inherits it, so the driver can read its exit status and reap it (a container's
    // PID 1 may never reap).
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char templ[] = "/tmp/fcXXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    tmp_ = templ;
    for (const char* f : {"vmlinux", "rootfs.ext4", "overlay.ext4"}) {
      ASSERT_THAT(fs::write_file_atomic(tmp_ + "/" + f, std::string("image ") + f), IsOk());
    }
  }
  void TearDown() override {
    for (auto& vm : vms_) (void)vm->stop(100);
    vms_.clear();
    (void)fs::remove_tree(tmp_);
  }

  std::unique_ptr<FirecrackerDriver> driver(int64_t socket_timeout_ms = 5'000,
                                            CgroupVersion version = CgroupVersion::kV2) {
    auto d = FirecrackerDriver::create({.jailer_path = LOBSTER_FAKE_FIRECRACKER,
                                        .firecracker_path = LOBSTER_FAKE_FIRECRACKER,
                                        .cgroup_root = tmp_ + "/cgroup",
                                        .cgroup_version = version,
                                        .parent_cgroup = "lobsterd-test",
                                        .socket_timeout_ms = socket_timeout_ms,
                                        .api_timeout_ms = 5'000});
    EXPECT_THAT(d, IsOk());
    return std::move(*d);
  }

  VmSpec spec(const std::string& id) {
    VmSpec s;
    s.id = id;
    s.kernel = tmp_ + "/vmlinux";
    s.cmdline = "console=ttyS0 reboot=k panic=1 pci=off";
    s.drives = {{tmp_ + "/rootfs.ext4", true, RateLimiter{TokenBucket{52428800, 0, 1000}, {}}},
                {tmp_ + "/overlay.ext4", false, std::nullopt}};
    s.net = NetIface{"lt" + id, "06:00:0a:00:00:02", std::nullopt, std::nullopt};
    s.vcpus = 2;
    s.mem_mib = 256;
    s.limits = default_limits(2, 256);
    s.jail = {static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getgid()),
              tmp_ + "/jail-" + id};
    s.console_log_path = tmp_ + "/" + id + ".console";
    s.vmm_log_path = tmp_ + "/" + id + ".vmm.log";
    s.metrics_path = tmp_ + "/" + id + ".metrics";
    s.run_dir = tmp_ + "/run-" + id;
    return s;
  }

  void plan(const VmSpec& s, const json& p) {
    ASSERT_THAT(fs::ensure_dir(s.jail.chroot_dir, 0711), IsOk());
    ASSERT_THAT(fs::write_file_atomic(testing::plan_path(s.jail.chroot_dir), p.dump()), IsOk());
  }

  std::vector<json> requests(const VmSpec& s) {
    std::vector<json> out;
    std::ifstream in(testing::request_log_path(s.jail.chroot_dir, "vm-" + s.id));
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  Vm* keep(std::unique_ptr<Vm> vm) {
    vms_.push_back(std::move(vm));
    return vms_.back().get();
  }

  std::string tmp_;
  std::vector<std::unique_ptr<Vm>> vms_;
};

TEST_F(FirecrackerDriverTest, BootSendsOnlySwaggerValidRequestsInSpecOrder) {
  auto d = driver();
  VmSpec s = spec("a");
  auto vm = d->start(s);
  ASSERT_THAT(vm, IsOk());
  Vm* a = keep(std::move(*vm));
  EXPECT_THAT(a->state(), ::testing::Optional(VmState::kRunning));
  std::vector<std::string> calls;
  for (const json& r : requests(s)) {
    EXPECT_TRUE(r["valid"].get<bool>()) << r.dump();
    calls.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>());
  }
  EXPECT_THAT(calls,
              ::testing::ElementsAre("PUT /logger", "PUT /metrics", "PUT /machine-config",
                                     "PUT /boot-source", "PUT /drives/drive0", "PUT /drives/drive1",
                                     "PUT /network-interfaces/eth0", "PUT /actions", "GET /"));
  // Hard links into the jail: the writable disk is the tenant's file itself.
  struct stat overlay {};
  ASSERT_EQ(::stat((s.jail.chroot_dir + "/lobster_fake_firecracker/vm-a/root/drive1.img").c_str(),
                   &overlay),
            0);
  EXPECT_EQ(overlay.st_nlink, 2U);
  auto stats = a->stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_GT(stats->rss_bytes, 0);
}

TEST_F(FirecrackerDriverTest, PauseSnapshotRestoreAndStopLeaveNothingBehind) {
  auto d = driver(5'000, CgroupVersion::kV1);
  VmSpec s = spec("a");
  auto started = d->start(s);
  ASSERT_THAT(started, IsOk());
  Vm* a = keep(std::move(*started));
  ASSERT_THAT(a->pause(), IsOk());
  ASSERT_THAT(a->pause(), IsOk());  // idempotent
  EXPECT_THAT(a->state(), ::testing::Optional(VmState::kPaused));
  ASSERT_THAT(a->resume(), IsOk());
  const std::string snap = tmp_ + "/snap-a";
  ASSERT_THAT(a->snapshot(snap), IsOk());
  EXPECT_THAT(a->state(), ::testing::Optional(VmState::kPaused));
  struct stat st {};
  ASSERT_EQ(::stat(snap.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  for (const char* f : {kSnapshotStateFile, kSnapshotMemFile}) {
    ASSERT_EQ(::stat((snap + "/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 07777, 0600U) << f;
  }
  const pid_t old_pid = a->identity().pid;
  ASSERT_THAT(a->stop(1'000), IsOk());
  EXPECT_TRUE(process::process_exited(old_pid));
  EXPECT_FALSE(fs::exists(s.jail.chroot_dir + "/lobster_fake_firecracker"));
  EXPECT_THAT(a->state(), ::testing::Optional(VmState::kExited));
  EXPECT_THAT(a->pause(), HasError(ErrorCode::kInvalidState));

  auto restored = d->restore(snap, s);
  ASSERT_THAT(restored, IsOk());
  Vm* b = keep(std::move(*restored));
  EXPECT_THAT(b->state(), ::testing::Optional(VmState::kRunning));
  bool saw_load = false;
  for (const json& r : requests(s)) {
    EXPECT_TRUE(r["valid"].get<bool>()) << r.dump();
    if (r["path"] == "/snapshot/load") {
      saw_load = true;
      EXPECT_EQ(r["status"], 204) << r.dump();
      EXPECT_EQ(r["body"]["mem_backend"]["backend_type"], "File");
      EXPECT_GE(r.value("snapshot_nlink", 0), 2) << "snapshot was copied, not hard-linked";
    }
  }
  EXPECT_TRUE(saw_load);
  ASSERT_THAT(b->stop(1'000), IsOk());
  EXPECT_TRUE(fs::exists(snap + "/" + kSnapshotMemFile));  // the snapshot outlives the VM
}

TEST_F(FirecrackerDriverTest, FaultMessageBecomesABootError) {
  auto d = driver();
  VmSpec s = spec("a");
  plan(s, {{"fail",
            {{"method", "PUT"},
             {"path", "/drives/drive1"},
             {"message", "Unable to open block device: No such file or directory"}}}});
  auto vm = d->start(s);
  ASSERT_THAT(vm, HasError(ErrorCode::kVmBootFailed));
  EXPECT_THAT(vm.error().message,
              HasSubstr("Firecracker API PUT /drives/drive1 failed (400): Unable to open block "
                        "device: No such file or directory"));
  auto log = requests(s);
  ASSERT_FALSE(log.empty());
  EXPECT_TRUE(process::process_exited(log.back()["pid"].get<pid_t>()));
  EXPECT_FALSE(fs::exists(s.jail.chroot_dir + "/lobster_fake_firecracker"));
}

TEST_F(FirecrackerDriverTest, SnapshotLoadFaultIsASnapshotError) {
  auto d = driver();
  VmSpec s = spec("a");
  EXPECT_THAT(d->restore(tmp_ + "/no-snapshot", s), HasError(ErrorCode::kSnapshotFailed));
  auto started = d->start(s);
  ASSERT_THAT(started, IsOk());
  Vm* a = keep(std::move(*started));
  ASSERT_THAT(a->snapshot(tmp_ + "/snap"), IsOk());
  ASSERT_THAT(a->stop(1'000), IsOk());
  plan(s, {{"fail",
            {{"method", "PUT"}, {"path", "/snapshot/load"}, {"message", "Snapshot is corrupt"}}}});
  auto restored = d->restore(tmp_ + "/snap", s);
  ASSERT_THAT(restored, HasError(ErrorCode::kSnapshotFailed));
  EXPECT_THAT(restored.error().message,
              HasSubstr("PUT /snapshot/load failed (400): Snapshot is corrupt"));
  EXPECT_FALSE(fs::exists(s.jail.chroot_dir + "/lobster_fake_firecracker"));
  EXPECT_TRUE(fs::exists(tmp_ + "/snap/" + kSnapshotMemFile));
}

TEST_F(FirecrackerDriverTest, SocketThatNeverAppearsTimesOut) {
  auto d = driver(/*socket_timeout_ms=*/300);
  VmSpec s = spec("a");
  plan(s, {{"no_socket", true}});
  auto vm = d->start(s);
  ASSERT_THAT(vm, HasError(ErrorCode::kExecTimeout));
  EXPECT_THAT(vm.error().message, HasSubstr("api.socket did not appear within 300 ms"));
  EXPECT_THAT(vm.error().detail, HasSubstr("fake firecracker vm-a: pid "));
  const std::string& detail = vm.error().detail;
  const pid_t pid = std::atoi(detail.c_str() + detail.find(": pid ") + 6);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(process::process_exited(pid));
}

TEST_F(FirecrackerDriverTest, EarlyExitReportsStatusAndStderr) {
  auto d = driver();
  VmSpec s = spec("a");
  plan(s, {{"exit_status", 3}});
  auto vm = d->start(s);
  ASSERT_THAT(vm, HasError(ErrorCode::kJailerSetupFailed));
  EXPECT_THAT(vm.error().message,
              HasSubstr("exited before its API socket appeared (exit status 3)"));
  EXPECT_THAT(vm.error().detail, HasSubstr("injected failure: cannot set up the jail for vm-a"));
}

TEST_F(FirecrackerDriverTest, VmmExitAfterTheJailerReportsItsOwnStatus) {
  auto d = driver();
  VmSpec s = spec("a");
  plan(s, {{"vmm_exit_status", 5}});
  auto vm = d->start(s);
  ASSERT_THAT(vm, HasError(ErrorCode::kJailerSetupFailed));
  EXPECT_THAT(vm.error().message,
              HasSubstr("Firecracker for vm-a exited before its API socket appeared (exit status "
                        "5)"));
  EXPECT_THAT(vm.error().detail, HasSubstr("injected VMM failure"));
}

TEST_F(FirecrackerDriverTest, KillingOneTenantNeverTouchesAnother) {
  auto d = driver();
  VmSpec sa = spec("a");
  VmSpec sb = spec("b");
  plan(sa, {{"ignore_ctrl_alt_del", true}});  // a's stop must end in SIGKILL
  auto a = d->start(sa);
  auto b = d->start(sb);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  Vm* va = keep(std::move(*a));
  Vm* vb = keep(std::move(*b));
  const ProcessIdentity a_id = va->identity();
  ASSERT_NE(a_id.pid, vb->identity().pid);
  // Stand-ins for the jailer's cgroups (cgroup v2 layout under the injected root).
  const std::string cg = tmp_ + "/cgroup/lobsterd-test/";
  ASSERT_THAT(fs::ensure_dir(cg + "vm-a", 0755), IsOk());
  ASSERT_THAT(fs::ensure_dir(cg + "vm-b", 0755), IsOk());
  ASSERT_THAT(va->stop(100), IsOk());
  EXPECT_TRUE(process::process_exited(a_id.pid));
  EXPECT_FALSE(fs::exists(cg + "vm-a"));
  EXPECT_TRUE(fs::exists(cg + "vm-b"));
  EXPECT_TRUE(fs::exists(sb.jail.chroot_dir + "/lobster_fake_firecracker/vm-b/root/api.socket"));
  EXPECT_THAT(vb->state(), ::testing::Optional(VmState::kRunning));
  EXPECT_THAT(identity_matches(vb->identity()), ::testing::Optional(true));
}

TEST_F(FirecrackerDriverTest, AttachChecksTheProcessIdentity) {
  auto d = driver();
  VmSpec s = spec("a");
  auto started = d->start(s);
  ASSERT_THAT(started, IsOk());
  Vm* a = keep(std::move(*started));
  auto again = d->attach(s, a->identity());
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT((*again)->state(), ::testing::Optional(VmState::kRunning));
  // Starting the same VM again must not pull the jail from under the live VMM.
  EXPECT_THAT(d->start(s), HasError(ErrorCode::kInvalidState));
  EXPECT_THAT(a->state(), ::testing::Optional(VmState::kRunning));
  ProcessIdentity wrong = a->identity();
  wrong.start_time += 1;
  EXPECT_THAT(d->attach(s, wrong), HasError(ErrorCode::kInvalidState));
}

TEST(FakeFirecrackerServerTest, RejectsAnInvalidBodyWith400) {
  auto v = testing::SwaggerValidator::from_file(LOBSTER_FC_SWAGGER_PATH);
  ASSERT_THAT(v, IsOk());
  char templ[] = "/tmp/fcsXXXXXX";
  ASSERT_NE(::mkdtemp(templ), nullptr);
  const std::string dir = templ;
  testing::FakeFirecrackerServer server(std::move(*v), {}, dir, "vm-x", dir + "/log.jsonl");
  auto [status, body] = server.handle("PUT", "/machine-config", R"({"vcpu_count":2})");
  EXPECT_EQ(status, 400);
  EXPECT_THAT(body, HasSubstr("missing required field 'mem_size_mib'"));
  auto line = fs::read_file(dir + "/log.jsonl");
  ASSERT_THAT(line, IsOk());
  EXPECT_THAT(*line, HasSubstr(R"("valid":false)"));
  (void)fs::remove_tree(dir);
}

}  // namespace
}  // namespace lobster::vmm::firecracker
