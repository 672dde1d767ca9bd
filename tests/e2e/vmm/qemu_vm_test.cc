// End-to-end tests of the qemu driver: real QEMU (TCG here), real cgroups, real namespaces.
// Root; runs inside a network namespace it creates (the tenant TAP lives there) and removes.
// Labels e2e;slow (boots VMs).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "host/cgroup/cgroups.h"
#include "host/process/process.h"
#include "image/builder.h"
#include "image/config_disk.h"
#include "image/overlay.h"
#include "tiny_guest.h"
#include "vmm/qemu/qemu_args.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::vmm {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using vmm::testing::Console;

constexpr uint32_t kTenantUid = 64123;
constexpr const char* kTap = "lq0";
constexpr const char* kHostIp = "10.0.0.5";
constexpr const char* kGuestIp = "10.0.0.6";
constexpr const char* kAgentToken = "vmm-e2e-agent-token-5c2e9d";

struct World {
  std::string root;  // short: socket paths
  std::string netns;
  UniqueFd host_ns;
  vmm::testing::TinyGuest guest;
  std::unique_ptr<cgroup::FsCgroups> cgroups;
  process::PosixProcessRunner runner;
  std::shared_ptr<qemu::KvmProbe> probe;  // the driver's: KVM or TCG
  std::unique_ptr<qemu::QemuDriver> driver;
};
World* world = nullptr;

class QemuVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    world = new World;
    // Like an init system: orphaned VMMs (after the fake daemon is killed) become our
    // children, so their exit is reaped and "no process remains" is checkable.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    world->root = "/tmp/lq" + std::to_string(::getpid());
    ASSERT_THAT(fs::ensure_dir(world->root, 0711), IsOk());
    auto guest = vmm::testing::build_tiny_guest("/tmp/lobster-qemu-e2e-guest");
    ASSERT_THAT(guest, IsOk());
    world->guest = *guest;
    world->netns = "lobster-qemu-" + std::to_string(::getpid());
    ASSERT_THAT(world->runner.run_checked({"ip", "netns", "add", world->netns}), IsOk());
    world->host_ns.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    UniqueFd ns(::open(("/var/run/netns/" + world->netns).c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_THAT(vmm::testing::make_tap(kTap, kTenantUid), IsOk());
    ASSERT_THAT(world->runner.run_checked({"ip", "link", "set", "lo", "up"}), IsOk());
    ASSERT_THAT(
        world->runner.run_checked({"ip", "addr", "add", std::string(kHostIp) + "/30", "dev", kTap}),
        IsOk());
    ASSERT_THAT(world->runner.run_checked({"ip", "link", "set", kTap, "up"}), IsOk());
    auto cg = cgroup::FsCgroups::create("/sys/fs/cgroup", cgroup::parent_name_for(world->root));
    ASSERT_THAT(cg, IsOk());
    world->cgroups = std::move(*cg);
    world->probe = std::make_shared<qemu::KvmProbe>(
        "/usr/bin/qemu-system-x86_64", world->guest.kernel, world->root + "/run", world->runner);
    qemu::QemuOptions options;
    if (const char* bin = std::getenv("LOBSTER_TEST_QEMU_BINARY"))
      options.binary = bin;
    world->driver =
        std::make_unique<qemu::QemuDriver>(options, world->probe, *world->cgroups, world->runner);
  }

  static void TearDownTestSuite() {
    if (world == nullptr)
      return;
    if (world->host_ns)
      (void)::setns(world->host_ns.get(), CLONE_NEWNET);
    (void)world->runner.run({"ip", "netns", "del", world->netns}, {});
    std::filesystem::remove_all(world->root);
    // The per-root parent cgroups (empty once every VM stopped).
    for (const char* c : {"memory", "cpu", "pids", ""}) {
      std::string d = std::string("/sys/fs/cgroup/") + c + (*c ? "/" : "") +
                      cgroup::parent_name_for(world->root);
      ::rmdir(d.c_str());
    }
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    if (::geteuid() != 0) {
      if (std::getenv("CI") != nullptr)
        FAIL() << "CI=true: e2e VMM tests need root";
      GTEST_SKIP() << "needs root";
    }
    ASSERT_NE(world, nullptr);
  }

  // A failed assertion must not leak a VM: every started VM is recorded and TearDown stops
  // what is still running (through attach, so the handle's lifetime does not matter).
  void TearDown() override {
    for (const auto& [spec, id] : started_) {
      auto alive = identity_matches(id);
      if (alive && *alive) {
        if (auto vm = world->driver->attach(spec, id))
          (void)(*vm)->stop(0);
      }
      (void)world->cgroups->remove(spec.id, 5000);
    }
  }

  void track(const VmSpec& spec, const Result<std::unique_ptr<Vm>>& vm) {
    if (vm)
      started_.emplace_back(spec, (*vm)->identity());
  }

  std::vector<std::pair<VmSpec, ProcessIdentity>> started_;

  VmSpec make_spec(const std::string& id, int64_t mem_mib = 256) {
    VmSpec s;
    s.id = id;
    s.kernel = world->guest.kernel;
    s.initramfs = world->guest.initramfs;
    s.cmdline = vmm::testing::kTinyCmdline;
    s.vcpus = 1;
    s.mem_mib = mem_mib;
    s.limits = default_limits(s.vcpus, s.mem_mib);
    s.jail = {kTenantUid, kTenantUid, world->root + "/jail/" + id};
    std::string logs = world->root + "/log/" + id;
    EXPECT_THAT(fs::ensure_dir(logs, 0700), IsOk());
    s.console_log_path = logs + "/console.log";
    s.vmm_log_path = logs + "/vmm.log";
    s.run_dir = world->root + "/run/" + id;
    s.console_socket_for_test = world->root + "/run/" + id + ".con";
    std::string disk = world->root + "/" + id + ".img";
    EXPECT_THAT(fs::write_file_atomic(disk, std::string(1 << 20, '\0'), 0600), IsOk());
    RateLimiter disk_limit{TokenBucket{52428800, 0, 1000}, TokenBucket{5000, 100, 1000}};
    s.drives.push_back({disk, true, disk_limit});
    RateLimiter net_limit{TokenBucket{1250000, 0, 1000}, std::nullopt};
    s.net = NetIface{kTap, "06:00:0a:00:00:02", net_limit, net_limit};
    return s;
  }

  // Everything a stopped VM must not leave behind.
  void expect_gone(const VmSpec& spec, pid_t pid) {
    EXPECT_NE(::kill(pid, 0), 0) << "process " << pid << " still exists";
    for (const auto& d : world->cgroups->dirs(spec.id)) EXPECT_FALSE(fs::exists(d)) << d;
    EXPECT_FALSE(fs::exists(spec.jail.chroot_dir));
    EXPECT_FALSE(fs::exists(spec.run_dir + "/qmp.sock"));
    EXPECT_FALSE(fs::exists(spec.console_socket_for_test));
  }
};

std::string agent_ping(int port, int64_t timeout_ms) {
  return vmm::testing::agent_ping(kGuestIp, port, kAgentToken, timeout_ms);
}

// Retries the ping until the agent answers (it may still be starting) or `timeout_ms` passes.
std::string agent_ping_until(int64_t timeout_ms) {
  return vmm::testing::agent_ping_until(kGuestIp, 53, kAgentToken, timeout_ms);
}

std::string random_token() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

TEST_F(QemuVmTest, BootsJailedPausesResumesAndStopsClean) {
  VmSpec spec = make_spec("boot");
  auto vm = world->driver->start(spec);
  track(spec, vm);
  ASSERT_THAT(vm, IsOk());
  pid_t pid = (*vm)->identity().pid;
  auto con = Console::connect(spec.console_socket_for_test, 10000);
  ASSERT_THAT(con, IsOk());
  ASSERT_THAT(
      vmm::testing::wait_for_file_text(spec.console_log_path, vmm::testing::kReadyMarker, 120000),
      IsOk());
  ASSERT_THAT(con->send_line("ping 1"), IsOk());
  EXPECT_THAT(con->expect("PONG 1", 30000), IsOk());

  // Jail: tenant uid, chrooted into the empty dir, own pid namespace, in its cgroups.
  auto status = fs::read_file("/proc/" + std::to_string(pid) + "/status");
  ASSERT_THAT(status, IsOk());
  EXPECT_NE(status->find("Uid:\t" + std::to_string(kTenantUid) + "\t"), std::string::npos)
      << *status;
  EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/root").string(),
            spec.jail.chroot_dir);
  EXPECT_NE(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid"),
            std::filesystem::read_symlink("/proc/self/ns/pid"));
  EXPECT_NE(status->find("Seccomp:\t2"), std::string::npos);
  auto limits = world->cgroups->read_limits(spec.id);
  ASSERT_THAT(limits, IsOk());
  // Guest RAM + the VMM's overhead, plus the bounded translation cache under TCG.
  EXPECT_EQ(limits->memory_bytes, world->probe->kvm_usable()
                                      ? spec.limits.memory_bytes
                                      : qemu::tcg_memory_limit(spec.limits.memory_bytes));
  EXPECT_EQ(limits->cpu_quota_us, 100000);
  EXPECT_EQ(limits->cpu_period_us, 100000);
  EXPECT_EQ(limits->pids_max, 256);
  auto members = world->cgroups->pids(spec.id);
  ASSERT_THAT(members, IsOk());
  EXPECT_NE(std::find(members->begin(), members->end(), pid), members->end());
  // Network rate limits on the TAP.
  auto tc = world->runner.run_checked({"tc", "qdisc", "show", "dev", kTap});
  ASSERT_THAT(tc, IsOk());
  EXPECT_NE(tc->out.find("tbf"), std::string::npos) << tc->out;

  // Paused: the guest does not answer; resumed: the pending command is answered.
  ASSERT_THAT((*vm)->pause(), IsOk());
  EXPECT_EQ(*(*vm)->state(), VmState::kPaused);
  ASSERT_THAT(con->send_line("ping 2"), IsOk());
  EXPECT_THAT(con->expect("PONG 2", 3000), HasError(ErrorCode::kExecTimeout));
  ASSERT_THAT((*vm)->resume(), IsOk());
  EXPECT_EQ(*(*vm)->state(), VmState::kRunning);
  EXPECT_THAT(con->expect("PONG 2", 30000), IsOk());
  auto stats = (*vm)->stats();
  ASSERT_THAT(stats, IsOk());
  EXPECT_GT(stats->rss_bytes, 16 << 20);
  EXPECT_GT(stats->cpu_time_ms, 0);

  ASSERT_THAT((*vm)->stop(1000), IsOk());
  EXPECT_EQ(*(*vm)->state(), VmState::kExited);
  expect_gone(spec, pid);
  EXPECT_THAT((*vm)->pause(), HasError(ErrorCode::kInvalidState));
}

TEST_F(QemuVmTest, SnapshotRestoreKeepsGuestMemory) {
  VmSpec spec = make_spec("snap");
  auto vm = world->driver->start(spec);
  track(spec, vm);
  ASSERT_THAT(vm, IsOk());
  auto con = Console::connect(spec.console_socket_for_test, 10000);
  ASSERT_THAT(con, IsOk());
  ASSERT_THAT(
      vmm::testing::wait_for_file_text(spec.console_log_path, vmm::testing::kReadyMarker, 120000),
      IsOk());
  std::string value = random_token();
  ASSERT_THAT(con->send_line("set " + value), IsOk());
  ASSERT_THAT(con->expect("SET-OK", 30000), IsOk());

  std::string dir = world->root + "/snapshots/snap";
  ASSERT_THAT((*vm)->snapshot(dir), IsOk());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2U);
  pid_t old_pid = (*vm)->identity().pid;
  ASSERT_THAT((*vm)->stop(0), IsOk());
  expect_gone(spec, old_pid);

  auto restored = world->driver->restore(dir, spec);
  track(spec, restored);
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(*(*restored)->state(), VmState::kRunning);
  auto con2 = Console::connect(spec.console_socket_for_test, 10000);
  ASSERT_THAT(con2, IsOk());
  ASSERT_THAT(con2->send_line("get"), IsOk());
  auto got = con2->expect("VALUE=", 30000);
  ASSERT_THAT(got, IsOk());
  EXPECT_NE(got->find("VALUE=" + value), std::string::npos) << *got;
  pid_t pid = (*restored)->identity().pid;
  ASSERT_THAT((*restored)->stop(0), IsOk());
  expect_gone(spec, pid);

  // A snapshot of another machine shape is refused before anything starts.
  VmSpec other = make_spec("snap", 512);
  EXPECT_THAT(world->driver->restore(dir, other), HasError(ErrorCode::kSnapshotFailed));
}

TEST_F(QemuVmTest, SurvivesDaemonDeathAndReattaches) {
  VmSpec spec = make_spec("orphan");
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t daemon = ::fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    // The "daemon": starts the VM, reports its identity, then waits to be killed.
    ::close(pipefd[0]);
    auto vm = world->driver->start(spec);
    std::string msg = vm ? fmt::format("{} {} {}", (*vm)->identity().pid,
                                       (*vm)->identity().start_time, (*vm)->identity().exe)
                         : "error " + vm.error().to_string();
    msg += "\n";
    (void)!::write(pipefd[1], msg.data(), msg.size());
    for (;;) ::pause();
  }
  ::close(pipefd[1]);
  std::string line;
  char c = 0;
  while (::read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(pipefd[0]);
  ASSERT_EQ(::kill(daemon, SIGKILL), 0);
  ASSERT_EQ(::waitpid(daemon, nullptr, 0), daemon);
  ASSERT_FALSE(line.starts_with("error")) << line;
  ProcessIdentity id;
  char exe[512] = {};
  ASSERT_EQ(std::sscanf(line.c_str(), "%d %lu %511s", &id.pid, &id.start_time, exe), 3) << line;
  id.exe = exe;
  started_.emplace_back(spec, id);

  // The VMM outlived its daemon.
  EXPECT_EQ(::kill(id.pid, 0), 0);
  ProcessIdentity wrong = id;
  wrong.start_time += 1;
  EXPECT_THAT(world->driver->attach(spec, wrong), HasError(ErrorCode::kInvalidState));
  wrong = id;
  wrong.exe = "/bin/sh";
  EXPECT_THAT(world->driver->attach(spec, wrong), HasError(ErrorCode::kInvalidState));

  auto vm = world->driver->attach(spec, id);
  ASSERT_THAT(vm, IsOk());
  auto con = Console::connect(spec.console_socket_for_test, 10000);
  ASSERT_THAT(con, IsOk());
  ASSERT_THAT(
      vmm::testing::wait_for_file_text(spec.console_log_path, vmm::testing::kReadyMarker, 120000),
      IsOk());
  ASSERT_THAT(con->send_line("ping 7"), IsOk());
  EXPECT_THAT(con->expect("PONG 7", 30000), IsOk());
  EXPECT_EQ(*(*vm)->state(), VmState::kRunning);
  ASSERT_THAT((*vm)->stop(0), IsOk());
  expect_gone(spec, id.pid);
}

// Done-when 1 with the real guest: the minimal image (initramfs -> overlay root ->
// lobster-init) boots under the driver and its agent answers over the TAP; paused it does
// not, resumed it does; a snapshot restores to an answering agent; stop leaves nothing.
TEST_F(QemuVmTest, MinimalImageAgentFollowsPauseResumeAndRestore) {
  auto guest = vmm::testing::prepare_minimal_guest(world->runner, world->root + "/img", kAgentToken,
                                                   kGuestIp, kHostIp);
  ASSERT_THAT(guest, IsOk());
  VmSpec spec = make_spec("img");
  spec.kernel = guest->kernel;
  spec.initramfs = guest->initramfs;
  spec.cmdline = guest->cmdline;
  spec.drives = guest->drives;
  auto vm = world->driver->start(spec);
  track(spec, vm);
  ASSERT_THAT(vm, IsOk());
  ASSERT_THAT(
      vmm::testing::wait_for_file_text(spec.console_log_path, "lobster-init: ready", 300000),
      IsOk())
      << fs::read_file(spec.console_log_path).value_or("");
  std::string reply = agent_ping_until(60000);
  EXPECT_NE(reply.find("PONG"), std::string::npos) << reply;

  ASSERT_THAT((*vm)->pause(), IsOk());
  EXPECT_EQ(agent_ping(53, 3000), "");
  ASSERT_THAT((*vm)->resume(), IsOk());
  EXPECT_NE(agent_ping_until(60000).find("PONG"), std::string::npos);

  std::string dir = world->root + "/snapshots/img";
  ASSERT_THAT((*vm)->snapshot(dir), IsOk());
  pid_t old_pid = (*vm)->identity().pid;
  ASSERT_THAT((*vm)->stop(0), IsOk());
  expect_gone(spec, old_pid);
  EXPECT_EQ(agent_ping(53, 2000), "");
  auto restored = world->driver->restore(dir, spec);
  track(spec, restored);
  ASSERT_THAT(restored, IsOk());
  EXPECT_NE(agent_ping_until(60000).find("PONG"), std::string::npos);
  pid_t pid = (*restored)->identity().pid;
  ASSERT_THAT((*restored)->stop(2000), IsOk());
  expect_gone(spec, pid);
}

}  // namespace
}  // namespace lobster::vmm
