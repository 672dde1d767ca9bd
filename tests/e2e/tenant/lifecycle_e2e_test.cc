// Tenant lifecycle end to end with the real lobsterd binary: daemon, QEMU microvm guests
// (minimal profile under TCG), rtnetlink TAPs, iptables, the supervised Caddy and SQLite, all
// inside a private network namespace owned by this test process.
//
// The suite shares one state root and one daemon; tests run in order and the last one evicts
// everything and scans for residue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "e2e/common/harness.h"
#include "e2e/common/residue.h"

namespace lobster {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

e2e::StateRoot g_root("/tmp/lt" + std::to_string(::getpid()));  // the suite's state root

e2e::CmdResult cli(const std::vector<std::string>& args, int64_t timeout_ms = 600'000) {
  return g_root.cli(args, timeout_ms);
}
using e2e::eventually;
using e2e::sh;

std::string curl(const std::string& tenant, const std::string& path,
                 const std::vector<std::string>& extra = {}) {
  return g_root.curl(tenant, path, extra);
}

class LifecycleE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    ASSERT_THAT(e2e::start_minimal_suite(g_root), IsOk());
    ASSERT_GT(g_root.daemon_pid(), 0);
  }

  static void TearDownTestSuite() {
    if (::geteuid() == 0)
      g_root.destroy();
  }

  void SetUp() override { LOBSTER_E2E_REQUIRE_ROOT(); }
};

TEST_F(LifecycleE2e, ThreeConcurrentTenantsReachableThroughCaddy) {
  std::vector<std::thread> spawns;
  std::vector<e2e::CmdResult> results(3);
  for (int i = 0; i < 3; ++i) {
    spawns.emplace_back([i, &results] {
      results[static_cast<size_t>(i)] = cli({"spawn", "t" + std::to_string(i + 1)});
    });
  }
  for (auto& t : spawns) t.join();
  for (const auto& r : results) ASSERT_EQ(r.exit, 0) << r.out << r.err;

  for (const char* t : {"t1", "t2", "t3"}) {
    SCOPED_TRACE(t);
    EXPECT_TRUE(eventually(
        [&] { return curl(t, "/health").find("{\"ok\":true}") != std::string::npos; }, 30'000))
        << curl(t, "/health");
    std::string token = g_root.token_of(t);
    ASSERT_FALSE(token.empty());
    EXPECT_THAT(g_root.ws_upgrade(t, ""), HasSubstr("401"));  // token enforced
    EXPECT_THAT(g_root.ws_upgrade(t, "?token=wrong"), HasSubstr("401"));
    EXPECT_THAT(g_root.ws_upgrade(t, "?token=" + token), HasSubstr("101 Switching Protocols"));
  }
  EXPECT_THAT(curl("nobody", "/health"), Not(HasSubstr("{\"ok\":true}")));
  e2e::CmdResult tank = cli({"--json", "tank"}, 120'000);
  auto entries = nlohmann::json::parse(tank.out, nullptr, false);
  ASSERT_TRUE(entries.is_array()) << tank.out << tank.err;
  EXPECT_EQ(entries.size(), 3u);
  for (const auto& e : entries) EXPECT_EQ(e.value("state", ""), "HEALTHY") << e.dump();
}

TEST_F(LifecycleE2e, ExecReturnsTheRemoteExitCode) {
  e2e::CmdResult r = cli({"exec", "t1", "--", "sh", "-c", "exit 7"}, 60'000);
  EXPECT_EQ(r.exit, 7) << r.err;
  e2e::CmdResult echo = cli({"exec", "t1", "--", "echo", "hello-from-guest"}, 60'000);
  EXPECT_EQ(echo.exit, 0) << echo.err;
  EXPECT_THAT(echo.out, HasSubstr("hello-from-guest"));
}

// The kernel command line arms softlockup_panic for the boot only (tenant/boot.h): a running
// guest must not panic because its vCPU was starved on a busy host.
TEST_F(LifecycleE2e, BootLockupPanicIsOffOnceTheGuestRuns) {
  e2e::CmdResult cmdline = cli({"exec", "t1", "--", "cat", "/proc/cmdline"}, 60'000);
  EXPECT_THAT(cmdline.out, HasSubstr("softlockup_panic=1"));
  e2e::CmdResult now =
      cli({"exec", "t1", "--", "cat", "/proc/sys/kernel/softlockup_panic"}, 60'000);
  EXPECT_EQ(now.exit, 0) << now.err;
  EXPECT_EQ(now.out, "0\n");
}

TEST_F(LifecycleE2e, InteractiveSessionInTmux) {
  // A real terminal: tmux runs `lobsterd exec t1` (ssh -t), we type into it and read the screen.
  std::string sock = g_root.path() + "/tmux.sock";
  std::string cmd = e2e::lobsterd_binary() + " --root " + g_root.path() + " exec t1";
  ASSERT_EQ(sh({"tmux", "-S", sock, "new-session", "-d", "-x", "120", "-y", "30", cmd}).exit, 0);
  bool prompt = eventually(
      [&] {
        return !sh({"tmux", "-S", sock, "capture-pane", "-p"}).out.empty();
      },
      20'000);
  EXPECT_TRUE(prompt);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  sh({"tmux", "-S", sock, "send-keys", "echo tty-$(tty | cut -c1-8)-$((6*7))", "Enter"});
  bool answered = eventually(
      [&] {
        return sh({"tmux", "-S", sock, "capture-pane", "-p"}).out.find("tty-/dev/pts-42") !=
               std::string::npos;
      },
      20'000);
  EXPECT_TRUE(answered) << sh({"tmux", "-S", sock, "capture-pane", "-p"}).out;
  sh({"tmux", "-S", sock, "send-keys", "exit", "Enter"});
  // The session ends with the shell; kill the tmux server if it did not.
  eventually([&] { return sh({"tmux", "-S", sock, "has-session"}).exit != 0; }, 10'000);
  sh({"tmux", "-S", sock, "kill-server"});
}

TEST_F(LifecycleE2e, SuspendFreesTheVmAndResumeKeepsGuestState) {
  ASSERT_EQ(cli({"exec", "t1", "--", "sh", "-c", "echo marker-4711 > /tmp/m"}, 60'000).exit, 0);
  e2e::CmdResult s = cli({"--json", "suspend", "t1"}, 300'000);
  ASSERT_EQ(s.exit, 0) << s.out << s.err;
  auto t = nlohmann::json::parse(cli({"--json", "tank"}, 120'000).out, nullptr, false);
  for (const auto& e : t) {
    if (e.value("name", "") == "t1") {
      EXPECT_EQ(e.value("vmPid", ""), "suspended");
    }
  }
  e2e::CmdResult twice = cli({"--json", "suspend", "t1"});
  EXPECT_NE(twice.exit, 0);
  EXPECT_THAT(twice.out, HasSubstr("SUSPEND_FAILED"));
  e2e::CmdResult r = cli({"resume", "t1"}, 300'000);
  ASSERT_EQ(r.exit, 0) << r.err;
  e2e::CmdResult again = cli({"--json", "resume", "t1"});
  EXPECT_NE(again.exit, 0);
  EXPECT_THAT(again.out, HasSubstr("RESUME_FAILED"));
  e2e::CmdResult cat = cli({"exec", "t1", "--", "cat", "/tmp/m"}, 60'000);
  EXPECT_THAT(cat.out, HasSubstr("marker-4711")) << cat.err;
  // The guest clock was set forward on resume: within a minute of the host's.
  e2e::CmdResult date = cli({"exec", "t1", "--", "date", "+%s"}, 60'000);
  int64_t guest = std::atoll(date.out.c_str());
  int64_t host = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  EXPECT_LT(std::llabs(host - guest), 60) << date.out;
  EXPECT_TRUE(eventually(
      [] { return curl("t1", "/health").find("{\"ok\":true}") != std::string::npos; }, 30'000));
}

TEST_F(LifecycleE2e, SnapIsEncryptedAndVerifiesByteIdentically) {
  ASSERT_EQ(
      cli({"exec", "t2", "--", "sh", "-c", "echo sk-planted-9f8e7d > /root/secret && sync"}, 60'000)
          .exit,
      0);
  ASSERT_EQ(cli({"suspend", "t2"}, 300'000).exit, 0);  // quiescent disk to compare against
  std::string out = g_root.path() + "/t2.snap";
  e2e::CmdResult s = cli({"snap", "t2", "-o", out}, 300'000);
  ASSERT_EQ(s.exit, 0) << s.err;
  auto bytes = fs::read_file(out);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->find("sk-planted-9f8e7d"), std::string::npos);
  std::string restored = g_root.path() + "/t2.restored";
  e2e::CmdResult v = cli({"snap", "verify", out, "--restore-to", restored}, 300'000);
  ASSERT_EQ(v.exit, 0) << v.err;
  EXPECT_EQ(sh({"cmp", restored, g_root.path() + "/lib/overlays/t2.ext4"}, 120'000).exit, 0);
  std::string tampered = *bytes;
  tampered[tampered.size() / 2] = static_cast<char>(tampered[tampered.size() / 2] ^ 0x10);
  ASSERT_TRUE(fs::write_file_atomic(out, tampered, 0600));
  e2e::CmdResult bad = cli({"--json", "snap", "verify", out}, 300'000);
  EXPECT_NE(bad.exit, 0);
  EXPECT_THAT(bad.out, HasSubstr("SNAPSHOT_FAILED"));
  ASSERT_EQ(cli({"resume", "t2"}, 300'000).exit, 0);
  std::filesystem::remove(out);
  std::filesystem::remove(restored);
}

TEST_F(LifecycleE2e, KilledCaddyAndIngressComeBackForEveryTenant) {
  for (pid_t pid : {g_root.caddy_pid(), g_root.ingress_pid()}) {
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    for (const char* t : {"t1", "t2", "t3"}) {
      EXPECT_TRUE(eventually(
          [&] { return curl(t, "/health").find("{\"ok\":true}") != std::string::npos; }, 10'000))
          << t;
    }
  }
}

TEST_F(LifecycleE2e, EvictLeavesNoResidue) {
  for (const char* t : {"t1", "t2", "t3"}) {
    e2e::CmdResult r = cli({"evict", "-y", t}, 300'000);
    EXPECT_EQ(r.exit, 0) << r.err;
  }
  e2e::CmdResult tank = cli({"--json", "tank"}, 60'000);
  EXPECT_EQ(nlohmann::json::parse(tank.out, nullptr, false), nlohmann::json::array()) << tank.out;
  auto findings = e2e::ResidueScanner(g_root.path()).scan();
  EXPECT_TRUE(findings.empty()) << e2e::ResidueScanner::describe(findings);
}

// Issue 7 "done when" 5: a suspended tenant has no VMM but a snapshot and its disks; evict
// must remove those too.
TEST_F(LifecycleE2e, EvictOfSuspendedTenantLeavesNoResidue) {
  e2e::CmdResult spawn = cli({"spawn", "t4"});
  ASSERT_EQ(spawn.exit, 0) << spawn.out << spawn.err;
  e2e::CmdResult s = cli({"suspend", "t4"}, 300'000);
  ASSERT_EQ(s.exit, 0) << s.out << s.err;
  // Only t4's own objects exist now (the scan keeps them)...
  auto before = e2e::ResidueScanner(g_root.path()).scan({"t4"});
  EXPECT_TRUE(before.empty()) << e2e::ResidueScanner::describe(before);
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::is_empty(g_root.path() + "/lib/snapshots/t4", ec))
      << "suspend left no snapshot to clean up";
  e2e::CmdResult r = cli({"evict", "-y", "t4"}, 300'000);
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  // ...and none after.
  auto findings = e2e::ResidueScanner(g_root.path()).scan();
  EXPECT_TRUE(findings.empty()) << e2e::ResidueScanner::describe(findings);
}

// A guest whose VMM exits while it boots (under TCG a rare guest-kernel livelock ends that way
// through softlockup_panic) is booted once more; here the test kills the first VMM itself.
TEST_F(LifecycleE2e, VmThatDiesWhileBootingIsBootedAgain) {
  pid_t first = 0;
  std::thread killer([&first] {
    // The daemon records the VMM's pid as soon as it starts, long before the agent answers.
    eventually(
        [&first] {
          e2e::CmdResult r = sh({"curl", "-sS", "--unix-socket", g_root.path() + "/run/api.sock",
                                 "http://lobsterd/v1/tenants/t5"});
          auto j = nlohmann::json::parse(r.out, nullptr, false);
          if (j.is_object() && j.value("vmPid", nlohmann::json()).is_number_integer())
            first = j["vmPid"].get<pid_t>();
          return first > 0;
        },
        60'000, 20);
    if (first > 0)
      ::kill(first, SIGKILL);  // our daemon's VMM, by pid
  });
  e2e::CmdResult spawn = cli({"--json", "spawn", "t5"});
  killer.join();
  ASSERT_GT(first, 0) << "never saw t5's first VMM";
  ASSERT_EQ(spawn.exit, 0) << spawn.out << spawn.err;
  EXPECT_TRUE(eventually([] { return g_root.healthy("t5"); }, 30'000));
  EXPECT_TRUE(process::process_exited(first));
  auto log = fs::read_file(g_root.path() + "/log/daemon.log");
  EXPECT_THAT(log.value_or(""), HasSubstr("tenant.boot_retry"));
  e2e::CmdResult r = cli({"evict", "-y", "t5"}, 300'000);
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  auto findings = e2e::ResidueScanner(g_root.path()).scan();
  EXPECT_TRUE(findings.empty()) << e2e::ResidueScanner::describe(findings);
}

}  // namespace
}  // namespace lobster
