// lobster-init in a real guest: builds the minimal image, boots it with plain QEMU microvm
// under TCG inside this test's own network namespace, then uses the real host agent client:
// health and auth, gateway stats, kill the gateway inside the guest (over SSH with the pinned
// host key) and measure the restart in guest time, log files under their cap, `shutdown`.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "agent/agent_client.h"
#include "core/fs.h"
#include "core/paths.h"
#include "core/testing/matchers.h"
#include "host/process/process.h"
#include "image/builder.h"
#include "image/config_disk.h"
#include "image/overlay.h"

namespace lobster {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

constexpr const char* kTap = "lobgst0";
constexpr const char* kHostIp = "10.0.0.5";
constexpr const char* kGuestIp = "10.0.0.6";
constexpr const char* kToken = "vm-e2e-agent-token-93be1";
constexpr uint64_t kLogCap = 1 << 20;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Under TCG the kernel's TSC calibration against the emulated PIT can stall on a loaded host;
// hand it the host's rate (as the qemu VMM driver does).
std::string tsc_option() {
  std::string cpuinfo = fs::read_file("/proc/cpuinfo").value_or("");
  size_t at = cpuinfo.find("cpu MHz");
  if (at == std::string::npos) {
    return "";
  }
  double mhz = std::atof(cpuinfo.c_str() + cpuinfo.find(':', at) + 1);
  return mhz > 0 ? " tsc_early_khz=" + std::to_string(static_cast<long long>(mhz * 1000)) : "";
}

class GuestVmE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !process::find_executable("qemu-system-x86_64")) {
      if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
        FAIL() << "needs root and qemu-system-x86_64";
      }
      GTEST_SKIP() << "needs root and qemu-system-x86_64";
    }
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    char tmpl[] = "/tmp/lobgst-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    if (qemu_pid_ > 0) {
      ::kill(qemu_pid_, SIGKILL);
      ::waitpid(qemu_pid_, nullptr, 0);
    }
    if (!root_.empty() && !HasFailure()) {
      (void)fs::remove_tree(root_);
    } else if (!root_.empty()) {
      std::printf("kept %s for inspection\n", root_.c_str());
    }
  }

  void run(const std::vector<std::string>& argv) { ASSERT_THAT(runner_.run_checked(argv), IsOk()); }

  Result<process::RunResult> ssh(const std::string& command) {
    process::RunOptions o;
    o.timeout_ms = 120'000;
    return runner_.run(
        {"ssh", "-i", root_ + "/client", "-o", "BatchMode=yes", "-o",
         "UserKnownHostsFile=" + root_ + "/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o",
         "ConnectTimeout=30", std::string("root@") + kGuestIp, command},
        o);
  }

  void boot(const image::BuildResult& built, const std::string& overlay, const std::string& cfg) {
    const std::string d = built.dir + "/";
    std::vector<std::string> argv = {
        "qemu-system-x86_64",
        "-M",
        "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on",
        "-m",
        "256",
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-no-reboot",
        "-kernel",
        d + "vmlinux",
        "-initrd",
        d + "initramfs.cpio",
        "-append",
        "console=ttyS0 reboot=k panic=1 quiet" + tsc_option(),
        "-serial",
        "file:" + root_ + "/serial.log",
        "-drive",
        "id=cfg,file=" + cfg + ",format=raw,if=none,readonly=on",
        "-device",
        "virtio-blk-device,drive=cfg",
        "-drive",
        "id=root,file=" + d + "rootfs.ext4,format=raw,if=none,readonly=on",
        "-device",
        "virtio-blk-device,drive=root",
        "-drive",
        "id=ovl,file=" + overlay + ",format=raw,if=none",
        "-device",
        "virtio-blk-device,drive=ovl",
        "-netdev",
        std::string("tap,id=n0,ifname=") + kTap + ",script=no,downscript=no",
        "-device",
        "virtio-net-device,netdev=n0"};
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    std::string log = root_ + "/qemu.log";
    qemu_pid_ = ::fork();
    ASSERT_GE(qemu_pid_, 0);
    if (qemu_pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
  }

  std::string serial() { return fs::read_file(root_ + "/serial.log").value_or(""); }

  process::PosixProcessRunner runner_;
  std::string root_;
  pid_t qemu_pid_ = -1;
};

TEST_F(GuestVmE2E, GatewayRestartLogsAndShutdown) {
  const Paths paths = Paths::under(root_);
  image::BuildOptions opt;
  opt.profile = "minimal";
  auto built = image::build_image(runner_, paths, opt);
  ASSERT_THAT(built, IsOk());

  const std::string overlay = root_ + "/ovl.ext4";
  ASSERT_THAT(image::create_overlay(runner_, overlay, 256), IsOk());
  run({"dropbearkey", "-t", "ed25519", "-f", root_ + "/hostkey"});
  run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vm-e2e", "-f", root_ + "/client"});
  image::ConfigDisk cfg;
  cfg.hostname = "vm-e2e";
  cfg.agent_token = kToken;
  cfg.gateway_token = "vm-e2e-gateway-token";
  cfg.address = kGuestIp;
  cfg.gateway = kHostIp;
  cfg.ssh_authorized_key = fs::read_file(root_ + "/client.pub").value_or("");
  cfg.ssh_host_key = fs::read_file(root_ + "/hostkey").value_or("");
  cfg.host_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_THAT(image::write_config_disk(root_ + "/config.img", cfg), IsOk());
  auto pub = runner_.run_checked({"dropbearkey", "-y", "-f", root_ + "/hostkey"});
  ASSERT_THAT(pub, IsOk());
  size_t at = pub->out.find("ssh-ed25519 ");
  ASSERT_NE(at, std::string::npos);
  ASSERT_THAT(fs::write_file_atomic(root_ + "/known_hosts",
                                    std::string(kGuestIp) + " " +
                                        pub->out.substr(at, pub->out.find('\n', at) - at) + "\n",
                                    0600),
              IsOk());

  run({"ip", "link", "set", "lo", "up"});
  run({"ip", "tuntap", "add", "dev", kTap, "mode", "tap"});
  run({"ip", "addr", "add", std::string(kHostIp) + "/30", "dev", kTap});
  run({"ip", "link", "set", kTap, "up"});
  ASSERT_NO_FATAL_FAILURE(boot(*built, overlay, root_ + "/config.img"));

  agent::AgentClient client({.host = kGuestIp}, kToken);
  ASSERT_THAT(client.wait_for_agent(240'000, 3'000, 500), IsOk()) << serial();
  EXPECT_THAT(serial(), HasSubstr("lobster-init: ready"));
  EXPECT_THAT(agent::AgentClient({.host = kGuestIp}, "wrong").health_ping(),
              HasError(ErrorCode::kAgentUnauthorized));

  std::optional<int> gw_pid;
  int64_t until = now_ms() + 60'000;
  while (!gw_pid && now_ms() < until) {
    auto s = client.get_stats();
    if (s && s->gateway_pid) {
      gw_pid = s->gateway_pid;
    }
  }
  ASSERT_TRUE(gw_pid.has_value());

  // Kill the gateway inside the guest and time, in guest uptime, until it runs again.
  std::ostringstream cmd;
  cmd << "kill -9 " << *gw_pid << "; a=$(busybox cut -d' ' -f1 /proc/uptime); "
      << "while ! busybox pidof lobster-testgw >/dev/null; do :; done; "
      << "b=$(busybox cut -d' ' -f1 /proc/uptime); echo \"uptime $a $b\"";
  auto killed = ssh(cmd.str());
  ASSERT_THAT(killed, IsOk());
  ASSERT_EQ(killed->exit_code, 0) << killed->err;
  double a = 0;
  double b = 0;
  ASSERT_EQ(std::sscanf(killed->out.c_str() + killed->out.find("uptime"), "uptime %lf %lf", &a, &b),
            2)
      << killed->out;
  auto restart_ms = static_cast<long long>((b - a) * 1000.0);
  std::printf("{\"vm_gateway_restart_ms\": %lld}\n", restart_ms);
  EXPECT_LE(restart_ms, 2'000);
  auto after = client.get_stats();
  ASSERT_THAT(after, IsOk());
  ASSERT_TRUE(after->gateway_pid.has_value());
  EXPECT_NE(*after->gateway_pid, *gw_pid);

  // Logs: each file under the 1 MiB cap; the agent's log is readable through get-logs.
  auto sizes = ssh("busybox wc -c /var/log/lobster/*.log");
  ASSERT_THAT(sizes, IsOk());
  std::istringstream lines(sizes->out);
  uint64_t bytes = 0;
  std::string name;
  int files = 0;
  while (lines >> bytes >> name) {
    if (name != "total") {
      ++files;
      EXPECT_LE(bytes, kLogCap) << name;
    }
  }
  EXPECT_GE(files, 3) << sizes->out;
  auto agent_log = client.get_logs(agent::LogService::kAgent);
  ASSERT_THAT(agent_log, IsOk());
  EXPECT_THAT(*agent_log, HasSubstr("restart in"));

  // Clean shutdown through the agent.
  EXPECT_THAT(client.shutdown(), IsOk());
  int64_t end = now_ms() + 120'000;
  while (serial().find("lobster-init: powering off") == std::string::npos && now_ms() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_THAT(serial(), HasSubstr("lobster-init: powering off"));
  EXPECT_THAT(serial(), ::testing::Not(HasSubstr(kToken)));
}

}  // namespace
}  // namespace lobster
