// Tenant lifecycle end to end with the real lobsterd binary: daemon, QEMU microvm guests
// (minimal profile under TCG), rtnetlink TAPs, iptables, the supervised Caddy and SQLite, all
// inside a private network namespace owned by this test process.
//
// The suite shares one state root and one daemon; tests run in order and the last one evicts
// everything and scans for residue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.h"
#include "core/paths.h"
#include "core/testing/matchers.h"
#include "host/cgroup/cgroups.h"
#include "host/process/process.h"

namespace lobster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool in_ci() { return std::getenv("CI") != nullptr; }  // NOLINT(concurrency-mt-unsafe)

std::string lobsterd_binary() {
  const char* dir = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  return std::string(dir != nullptr ? dir : ".") + "/src/daemon/lobsterd";
}

struct CliRun {
  int exit = -1;
  std::string out, err;
};

process::PosixProcessRunner& runner() {
  static process::PosixProcessRunner r;
  return r;
}

std::string g_root;  // state root of the suite
pid_t g_daemon_pid = 0;

CliRun cli(std::vector<std::string> args, int64_t timeout_ms = 600'000) {
  std::vector<std::string> argv = {lobsterd_binary(), "--root", g_root};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runner().run(argv, {.timeout_ms = timeout_ms});
  if (!r)
    return {};
  return {r->exit_code, r->out, r->err};
}

CliRun sh(const std::vector<std::string>& argv, int64_t timeout_ms = 30'000) {
  auto r = runner().run(argv, {.timeout_ms = timeout_ms});
  if (!r)
    return {};
  return {r->exit_code, r->out, r->err};
}

std::string ca_file() { return g_root + "/lib/caddy/data/pki/authorities/local/root.crt"; }

// curl through Caddy to https://<tenant>.lobster.localhost<path> (-i: status line included).
std::string curl(const std::string& tenant, const std::string& path,
                 const std::vector<std::string>& extra = {}) {
  std::string host = tenant + ".lobster.localhost";
  std::vector<std::string> argv = {
      "curl",     "-sS",    "-i", "--max-time", "5", "--resolve", host + ":443:127.0.0.1",
      "--cacert", ca_file()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://" + host + path);
  return sh(argv, 15'000).out;
}

std::string ws_upgrade(const std::string& tenant, const std::string& query) {
  return curl(tenant, "/ws" + query,
              {"--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
               "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
}

bool eventually(const std::function<bool()>& pred, int max_ms) {
  for (int waited = 0; waited <= max_ms; waited += 250) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

std::string token_of(const std::string& tenant) {
  CliRun r = cli({"token", tenant});
  std::string t = r.out;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

class LifecycleE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "private network namespace";
    ASSERT_EQ(sh({"ip", "link", "set", "lo", "up"}).exit, 0);
    g_root = "/tmp/lt" + std::to_string(::getpid());
    std::filesystem::remove_all(g_root);
    std::filesystem::create_directories(g_root + "/etc");
    nlohmann::json cfg = {
        {"firecracker", {{"defaultVcpuCount", 1}, {"defaultMemSizeMb", 256}}},
        {"overlay", {{"defaultSizeMb", 512}}},
        {"image", {{"defaultProfile", "minimal"}}},
        {"vmm", {{"driver", "qemu"}}},
    };
    ASSERT_TRUE(fs::write_file_atomic(g_root + "/etc/config.json", cfg.dump(2), 0600));
    CliRun build = cli({"image", "build", "--profile", "minimal"}, 900'000);
    ASSERT_EQ(build.exit, 0) << build.err;
    CliRun init = cli({"init", "-y"}, 120'000);
    ASSERT_EQ(init.exit, 0) << init.out << init.err;
    auto pid = fs::read_file(g_root + "/run/lobsterd.pid");
    ASSERT_TRUE(pid.has_value());
    g_daemon_pid = std::atoi(pid->c_str());
  }

  static void TearDownTestSuite() {
    if (g_root.empty())
      return;
    // Evict whatever a failed test left, stop the daemon and its Caddy, remove the root.
    CliRun list = cli({"--json", "tank"}, 120'000);
    auto tenants = nlohmann::json::parse(list.out, nullptr, false);
    if (tenants.is_array()) {
      for (const auto& t : tenants) cli({"evict", "-y", t.value("name", "")});
    }
    auto caddy = fs::read_file(g_root + "/run/caddy.pid");
    cli({"uninit", "-y"}, 60'000);
    if (caddy)
      ::kill(std::atoi(caddy->c_str()), SIGTERM);
    std::filesystem::remove_all(g_root);
  }

  void SetUp() override {
    if (::geteuid() != 0) {
      if (in_ci())
        FAIL() << "needs root";
      GTEST_SKIP() << "needs root";
    }
  }
};

TEST_F(LifecycleE2e, ThreeConcurrentTenantsReachableThroughCaddy) {
  std::vector<std::thread> spawns;
  std::vector<CliRun> results(3);
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
    std::string token = token_of(t);
    ASSERT_FALSE(token.empty());
    EXPECT_THAT(ws_upgrade(t, ""), HasSubstr("401"));  // token enforced
    EXPECT_THAT(ws_upgrade(t, "?token=wrong"), HasSubstr("401"));
    EXPECT_THAT(ws_upgrade(t, "?token=" + token), HasSubstr("101 Switching Protocols"));
  }
  EXPECT_THAT(curl("nobody", "/health"), Not(HasSubstr("{\"ok\":true}")));
  CliRun tank = cli({"--json", "tank"}, 120'000);
  auto entries = nlohmann::json::parse(tank.out, nullptr, false);
  ASSERT_TRUE(entries.is_array()) << tank.out << tank.err;
  EXPECT_EQ(entries.size(), 3u);
  for (const auto& e : entries) EXPECT_EQ(e.value("state", ""), "HEALTHY") << e.dump();
}

TEST_F(LifecycleE2e, ExecReturnsTheRemoteExitCode) {
  CliRun r = cli({"exec", "t1", "--", "sh", "-c", "exit 7"}, 60'000);
  EXPECT_EQ(r.exit, 7) << r.err;
  CliRun echo = cli({"exec", "t1", "--", "echo", "hello-from-guest"}, 60'000);
  EXPECT_EQ(echo.exit, 0) << echo.err;
  EXPECT_THAT(echo.out, HasSubstr("hello-from-guest"));
}

TEST_F(LifecycleE2e, InteractiveSessionInTmux) {
  // A real terminal: tmux runs `lobsterd exec t1` (ssh -t), we type into it and read the screen.
  std::string sock = g_root + "/tmux.sock";
  std::string cmd = lobsterd_binary() + " --root " + g_root + " exec t1";
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
  CliRun s = cli({"--json", "suspend", "t1"}, 300'000);
  ASSERT_EQ(s.exit, 0) << s.out << s.err;
  auto t = nlohmann::json::parse(cli({"--json", "tank"}, 120'000).out, nullptr, false);
  for (const auto& e : t) {
    if (e.value("name", "") == "t1") {
      EXPECT_EQ(e.value("vmPid", ""), "suspended");
    }
  }
  CliRun twice = cli({"--json", "suspend", "t1"});
  EXPECT_NE(twice.exit, 0);
  EXPECT_THAT(twice.out, HasSubstr("SUSPEND_FAILED"));
  CliRun r = cli({"resume", "t1"}, 300'000);
  ASSERT_EQ(r.exit, 0) << r.err;
  CliRun again = cli({"--json", "resume", "t1"});
  EXPECT_NE(again.exit, 0);
  EXPECT_THAT(again.out, HasSubstr("RESUME_FAILED"));
  CliRun cat = cli({"exec", "t1", "--", "cat", "/tmp/m"}, 60'000);
  EXPECT_THAT(cat.out, HasSubstr("marker-4711")) << cat.err;
  // The guest clock was set forward on resume: within a minute of the host's.
  CliRun date = cli({"exec", "t1", "--", "date", "+%s"}, 60'000);
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
  std::string out = g_root + "/t2.snap";
  CliRun s = cli({"snap", "t2", "-o", out}, 300'000);
  ASSERT_EQ(s.exit, 0) << s.err;
  auto bytes = fs::read_file(out);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->find("sk-planted-9f8e7d"), std::string::npos);
  std::string restored = g_root + "/t2.restored";
  CliRun v = cli({"snap", "verify", out, "--restore-to", restored}, 300'000);
  ASSERT_EQ(v.exit, 0) << v.err;
  EXPECT_EQ(sh({"cmp", restored, g_root + "/lib/overlays/t2.ext4"}, 120'000).exit, 0);
  std::string tampered = *bytes;
  tampered[tampered.size() / 2] = static_cast<char>(tampered[tampered.size() / 2] ^ 0x10);
  ASSERT_TRUE(fs::write_file_atomic(out, tampered, 0600));
  CliRun bad = cli({"--json", "snap", "verify", out}, 300'000);
  EXPECT_NE(bad.exit, 0);
  EXPECT_THAT(bad.out, HasSubstr("SNAPSHOT_FAILED"));
  ASSERT_EQ(cli({"resume", "t2"}, 300'000).exit, 0);
  std::filesystem::remove(out);
  std::filesystem::remove(restored);
}

TEST_F(LifecycleE2e, KilledCaddyComesBackWithEveryRoute) {
  auto pid = fs::read_file(g_root + "/run/caddy.pid");
  ASSERT_TRUE(pid.has_value());
  ASSERT_EQ(::kill(std::atoi(pid->c_str()), SIGKILL), 0);
  for (const char* t : {"t1", "t2", "t3"}) {
    EXPECT_TRUE(eventually(
        [&] { return curl(t, "/health").find("{\"ok\":true}") != std::string::npos; }, 5'000))
        << t;
  }
}

TEST_F(LifecycleE2e, EvictLeavesNoResidue) {
  for (const char* t : {"t1", "t2", "t3"}) {
    CliRun r = cli({"evict", "-y", t}, 300'000);
    EXPECT_EQ(r.exit, 0) << r.err;
  }
  // Database rows.
  CliRun tank = cli({"--json", "tank"}, 60'000);
  EXPECT_EQ(nlohmann::json::parse(tank.out, nullptr, false), nlohmann::json::array()) << tank.out;
  // TAPs.
  EXPECT_THAT(sh({"ip", "-o", "link", "show"}).out, Not(HasSubstr(": lt")));
  // Per-tenant firewall chains (the shared LOBSTER-* base chains stay until uninit).
  EXPECT_THAT(sh({"iptables-save"}).out, Not(HasSubstr("LOB-")));
  // Caddy routes.
  CliRun routes = sh({"curl", "-sS", "--unix-socket", g_root + "/run/caddy-admin.sock", "-H",
                      "Host: ", "http://localhost/config/apps/http/servers/lobster/routes"});
  EXPECT_THAT(routes.out, Not(HasSubstr("lobster-t")));
  // Files, keys, sockets, snapshots, logs of tenants.
  for (const char* dir :
       {"/lib/overlays", "/lib/ssh", "/lib/snapshots", "/run/vm", "/log/t", "/lib/jail"}) {
    std::error_code ec;
    bool empty =
        !std::filesystem::exists(g_root + dir, ec) || std::filesystem::is_empty(g_root + dir, ec);
    EXPECT_TRUE(empty) << dir;
  }
  // Processes: no qemu left that was started for this root (its console log path is ours).
  for (const auto& p : std::filesystem::directory_iterator("/proc")) {
    auto cmd = fs::read_file(p.path().string() + "/cmdline");
    if (cmd && cmd->find("qemu-system") != std::string::npos) {
      EXPECT_EQ(cmd->find(g_root), std::string::npos) << "leftover VMM " << p.path();
    }
  }
  // cgroups of this root (its parent is named after the root).
  for (const char* ctl : {"memory", "cpu", "pids", ""}) {
    std::string parent =
        std::string("/sys/fs/cgroup/") + ctl + (*ctl ? "/" : "") + cgroup::parent_name_for(g_root);
    std::error_code ec;
    for (const auto& child : std::filesystem::directory_iterator(parent, ec)) {
      EXPECT_FALSE(child.is_directory()) << "leftover cgroup " << child.path();
    }
  }
}

}  // namespace
}  // namespace lobster
