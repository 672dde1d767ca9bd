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
#include "e2e/common/harness.h"
#include "e2e/common/raw_guest.h"
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
constexpr const char* kToken = "e2e-agent-token-7d1f0c9a4b";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class MinimalImageBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !process::find_executable("qemu-system-x86_64")) {
      if (e2e::in_ci())
        FAIL() << "needs root and qemu-system-x86_64";
      GTEST_SKIP() << "needs root and qemu-system-x86_64";
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ASSERT_THAT(e2e::enter_private_netns(), IsOk());
    char tmpl[] = "/tmp/lobimg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    // LOBSTER_E2E_KEEP=1 keeps the images and logs (they are always kept after a failure).
    const bool keep = HasFailure() || std::getenv("LOBSTER_E2E_KEEP") != nullptr;
    if (!root_.empty() && !keep)
      (void)fs::remove_tree(root_);
    if (!root_.empty() && keep)
      std::printf("kept %s for inspection\n", root_.c_str());
  }

  process::PosixProcessRunner runner_;
  std::string root_;
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

  // Per-tenant disks, keys and the TAP, then a plain QEMU boot.
  e2e::RawGuest vm({.dir = root_,
                    .tap = kTap,
                    .hostname = "t1",
                    .agent_token = kToken,
                    .overlay_mib = 512,
                    .extra_cmdline = " loglevel=6"});
  const int64_t prep_start = now_ms();
  ASSERT_THAT(vm.prepare(runner_), IsOk());
  std::printf("overlay (512 MiB sparse), keys, config disk, TAP in %lld ms\n",
              static_cast<long long>(now_ms() - prep_start));

  const int64_t boot_start = now_ms();
  ASSERT_THAT(vm.start(built->dir), IsOk());
  std::string log = vm.wait_for_serial("lobster-initramfs: ok", 180'000);
  ASSERT_THAT(log, HasSubstr("lobster-initramfs: ok")) << log;
  const int64_t initramfs_ms = now_ms() - boot_start;
  log = vm.wait_for_serial("lobster-init: ready", 180'000);
  ASSERT_THAT(log, HasSubstr("lobster-init: ready")) << log;
  const int64_t ready_ms = now_ms() - boot_start;
  std::printf("boot: initramfs ok after %lld ms, lobster-init ready after %lld ms\n",
              static_cast<long long>(initramfs_ms), static_cast<long long>(ready_ms));
  RecordProperty("boot_ready_ms", std::to_string(ready_ms));

  // health-ping on the health port (53) and the agent port (52), right and wrong token.
  const std::string good = nlohmann::json{{"type", "health-ping"}, {"token", kToken}}.dump();
  const std::string bad = nlohmann::json{{"type", "health-ping"}, {"token", "wrong"}}.dump();
  const std::string ip = e2e::RawGuest::kGuestIp;
  std::string reply;
  for (int i = 0; i < 50 && reply.empty(); ++i) {
    reply = e2e::agent_request(ip, 53, good + "\n");
    if (reply.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(reply.empty()) << "agent on " << ip << ":53 unreachable";
  const auto pong = nlohmann::json::parse(reply, nullptr, false);
  EXPECT_EQ(pong.value("ok", false), true) << reply;
  EXPECT_THAT(reply, HasSubstr("PONG"));
  EXPECT_EQ(e2e::agent_request(ip, 52, good + "\n"), reply);
  EXPECT_EQ(e2e::agent_request(ip, 53, bad + "\n"), "{\"error\":\"unauthorized\"}\n");
  EXPECT_EQ(e2e::agent_request(ip, 52, bad + "\n"), "{\"error\":\"unauthorized\"}\n");

  // SSH with the host key from the config disk pinned: read the guest's own /proc/cmdline.
  auto ssh = vm.ssh(runner_, "cat /proc/cmdline; hostname", 60'000);
  ASSERT_THAT(ssh, IsOk());
  EXPECT_EQ(ssh->exit_code, 0) << ssh->err;
  EXPECT_THAT(ssh->out, HasSubstr("console=ttyS0"));
  EXPECT_THAT(ssh->out, HasSubstr("t1"));
  EXPECT_THAT(ssh->out, Not(HasSubstr(kToken)));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
  vm.kill();

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
