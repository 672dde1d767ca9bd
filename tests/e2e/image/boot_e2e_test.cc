// Builds the minimal image into a temporary root and boots it with plain QEMU microvm under
// TCG inside a private network namespace (this test process unshares its own, so the TAP and
// everything on it vanish with the process). Checks the boot markers, the agent's health-ping
// over the TAP (right and wrong token), SSH into the guest, that the agent token is not on the
// guest's kernel command line, and that a modified artifact is then refused as IMAGE_CORRUPT.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.h"
#include "core/paths.h"
#include "core/testing/matchers.h"
#include "core/unique_fd.h"
#include "image/builder.h"
#include "image/config_disk.h"
#include "image/overlay.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kTap = "lobimg0";
constexpr const char* kHostIp = "10.0.0.5";
constexpr const char* kGuestIp = "10.0.0.6";
constexpr const char* kToken = "e2e-agent-token-7d1f0c9a4b";

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One request, the whole reply (the agent closes after answering). "" if unreachable.
std::string agent_request(int port, const std::string& line) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, kGuestIp, &addr.sin_addr);
  // Kernel ABI: sockaddr_in is the AF_INET form of sockaddr.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    return "";
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, 3000) != 1)
    return "";
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0)
    return "";
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(line.size())) {
    return "";
  }
  std::string reply;
  char buf[4096];
  const int64_t deadline = now_ms() + 10'000;
  while (now_ms() < deadline) {
    p = {fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1)
      continue;
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n <= 0)
      break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

// Under TCG the kernel's TSC calibration against the emulated PIT can stall on a loaded host;
// give it the host's rate (the qemu VMM driver does the same).
std::string tsc_option() {
  const std::string cpuinfo = fs::read_file("/proc/cpuinfo").value_or("");
  const size_t at = cpuinfo.find("cpu MHz");
  if (at == std::string::npos)
    return "";
  const size_t colon = cpuinfo.find(':', at);
  const double mhz = std::atof(cpuinfo.c_str() + colon + 1);
  if (mhz <= 0)
    return "";
  return " tsc_early_khz=" + std::to_string(static_cast<long long>(mhz * 1000));
}

class MinimalImageBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !process::find_executable("qemu-system-x86_64")) {
      if (in_ci())
        FAIL() << "needs root and qemu-system-x86_64";
      GTEST_SKIP() << "needs root and qemu-system-x86_64";
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    char tmpl[] = "/tmp/lobimg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    if (qemu_pid_ > 0) {
      ::kill(qemu_pid_, SIGKILL);
      ::waitpid(qemu_pid_, nullptr, 0);
    }
    // LOBSTER_E2E_KEEP=1 keeps the images and logs (they are always kept after a failure).
    const bool keep = HasFailure() || std::getenv("LOBSTER_E2E_KEEP") != nullptr;
    if (!root_.empty() && !keep)
      (void)fs::remove_tree(root_);
    if (!root_.empty() && keep)
      std::printf("kept %s for inspection\n", root_.c_str());
  }

  void run(const std::vector<std::string>& argv) {
    auto r = runner_.run_checked(argv);
    ASSERT_THAT(r, IsOk());
  }

  void start_qemu(const BuildResult& built, const std::string& overlay, const std::string& cfg) {
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
        "console=ttyS0 reboot=k panic=1 quiet loglevel=6" + tsc_option(),
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
    const std::string log = root_ + "/qemu.log";
    qemu_pid_ = ::fork();
    ASSERT_GE(qemu_pid_, 0);
    if (qemu_pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
  }

  // Waits (bounded) until the serial log contains `marker`; stops early on a FATAL line or a
  // dead QEMU. Returns the log.
  std::string wait_for(const std::string& marker, int64_t timeout_ms) {
    const int64_t deadline = now_ms() + timeout_ms;
    std::string log;
    while (now_ms() < deadline) {
      log = fs::read_file(root_ + "/serial.log").value_or("");
      if (log.find(marker) != std::string::npos || log.find("FATAL") != std::string::npos)
        break;
      if (::waitpid(qemu_pid_, nullptr, WNOHANG) == qemu_pid_) {
        qemu_pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return log;
  }

  process::PosixProcessRunner runner_;
  std::string root_;
  pid_t qemu_pid_ = -1;
};

TEST_F(MinimalImageBoot, BuildsBootsAnswersAndDetectsCorruption) {
  const Paths paths = Paths::under(root_);
  BuildOptions opt;
  opt.profile = "minimal";
  opt.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  const int64_t build_start = now_ms();
  auto built = build_image(runner_, paths, opt);
  ASSERT_THAT(built, IsOk());
  const int64_t build_ms = now_ms() - build_start;
  std::printf("minimal image build: %lld ms\n", static_cast<long long>(build_ms));
  RecordProperty("build_ms", std::to_string(build_ms));
  for (const auto& [name, a] : built->manifest.artifacts) {
    std::printf("  %s: %llu bytes\n", name.c_str(), static_cast<unsigned long long>(a.size));
  }
  ImageVerifier verifier(paths.images_dir());
  ASSERT_THAT(verifier.verify("minimal"), IsOk());

  // A second build without --force finds the image intact and up to date.
  auto again = build_image(runner_, paths, opt);
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->rebuilt);
  // --force rebuilds and swaps the new image in place of the intact one.
  opt.force = true;
  auto forced = build_image(runner_, paths, opt);
  ASSERT_THAT(forced, IsOk());
  EXPECT_TRUE(forced->rebuilt);
  EXPECT_NE(forced->manifest.built_at, "");
  ASSERT_THAT(verifier.verify("minimal"), IsOk());
  built = std::move(forced);

  // Per-tenant disks.
  const std::string overlay = root_ + "/t1.ovl.ext4";
  const int64_t ovl_start = now_ms();
  ASSERT_THAT(create_overlay(runner_, overlay, 512), IsOk());
  std::printf("overlay (512 MiB sparse) created in %lld ms\n",
              static_cast<long long>(now_ms() - ovl_start));
  run({"dropbearkey", "-t", "ed25519", "-f", root_ + "/hostkey"});
  run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lobsterd-t1", "-f",
       root_ + "/client"});
  ConfigDisk cfg;
  cfg.hostname = "t1";
  cfg.agent_token = kToken;
  cfg.gateway_token = "e2e-gateway-token";
  cfg.address = kGuestIp;
  cfg.gateway = kHostIp;
  cfg.ssh_authorized_key = fs::read_file(root_ + "/client.pub").value_or("");
  cfg.ssh_host_key = fs::read_file(root_ + "/hostkey").value_or("");
  cfg.host_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const std::string cfg_path = root_ + "/t1.config.img";
  ASSERT_THAT(write_config_disk(cfg_path, cfg), IsOk());

  run({"ip", "link", "set", "lo", "up"});
  run({"ip", "tuntap", "add", "dev", kTap, "mode", "tap"});
  run({"ip", "addr", "add", std::string(kHostIp) + "/30", "dev", kTap});
  run({"ip", "link", "set", kTap, "up"});

  const int64_t boot_start = now_ms();
  ASSERT_NO_FATAL_FAILURE(start_qemu(*built, overlay, cfg_path));
  std::string log = wait_for("lobster-initramfs: ok", 180'000);
  ASSERT_THAT(log, HasSubstr("lobster-initramfs: ok")) << log;
  const int64_t initramfs_ms = now_ms() - boot_start;
  log = wait_for("lobster-init: ready", 180'000);
  ASSERT_THAT(log, HasSubstr("lobster-init: ready")) << log;
  const int64_t ready_ms = now_ms() - boot_start;
  std::printf("boot: initramfs ok after %lld ms, lobster-init ready after %lld ms\n",
              static_cast<long long>(initramfs_ms), static_cast<long long>(ready_ms));
  RecordProperty("boot_ready_ms", std::to_string(ready_ms));

  // health-ping on the health port (53) and the agent port (52), right and wrong token.
  const std::string good = nlohmann::json{{"type", "health-ping"}, {"token", kToken}}.dump();
  const std::string bad = nlohmann::json{{"type", "health-ping"}, {"token", "wrong"}}.dump();
  std::string reply;
  for (int i = 0; i < 50 && reply.empty(); ++i) {
    reply = agent_request(53, good + "\n");
    if (reply.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(reply.empty()) << "agent on " << kGuestIp << ":53 unreachable";
  const auto pong = nlohmann::json::parse(reply, nullptr, false);
  EXPECT_EQ(pong.value("ok", false), true) << reply;
  EXPECT_THAT(reply, HasSubstr("PONG"));
  EXPECT_EQ(agent_request(52, good + "\n"), reply);
  EXPECT_EQ(agent_request(53, bad + "\n"), "{\"error\":\"unauthorized\"}\n");
  EXPECT_EQ(agent_request(52, bad + "\n"), "{\"error\":\"unauthorized\"}\n");

  // SSH with the host key from the config disk pinned: read the guest's own /proc/cmdline.
  auto pub = runner_.run_checked({"dropbearkey", "-y", "-f", root_ + "/hostkey"});
  ASSERT_THAT(pub, IsOk());
  const size_t key_at = pub->out.find("ssh-ed25519 ");
  ASSERT_NE(key_at, std::string::npos);
  const std::string key_line = pub->out.substr(key_at, pub->out.find('\n', key_at) - key_at);
  ASSERT_THAT(fs::write_file_atomic(root_ + "/known_hosts",
                                    std::string(kGuestIp) + " " + key_line + "\n", 0600),
              IsOk());
  process::RunOptions ssh_opt;
  ssh_opt.timeout_ms = 60'000;
  auto ssh = runner_.run(
      {"ssh", "-i", root_ + "/client", "-o", "BatchMode=yes", "-o",
       "UserKnownHostsFile=" + root_ + "/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o",
       "ConnectTimeout=20", std::string("root@") + kGuestIp, "cat /proc/cmdline; hostname"},
      ssh_opt);
  ASSERT_THAT(ssh, IsOk());
  EXPECT_EQ(ssh->exit_code, 0) << ssh->err;
  EXPECT_THAT(ssh->out, HasSubstr("console=ttyS0"));
  EXPECT_THAT(ssh->out, HasSubstr("t1"));
  EXPECT_THAT(ssh->out, Not(HasSubstr(kToken)));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));

  ::kill(qemu_pid_, SIGKILL);
  ::waitpid(qemu_pid_, nullptr, 0);
  qemu_pid_ = -1;

  // Done-when 6: a modified artifact is refused, even by a verifier that cached it as good.
  FILE* f = std::fopen((built->dir + "/rootfs.ext4").c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 4096 * 3, SEEK_SET);
  std::fputc(0x5a, f);
  std::fclose(f);
  EXPECT_THAT(verifier.verify("minimal"), HasError(ErrorCode::kImageCorrupt));
}

}  // namespace
}  // namespace lobster::image
