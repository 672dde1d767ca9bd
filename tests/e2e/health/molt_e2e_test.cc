// molt and exec holds end to end with the real lobsterd binary: daemon, one QEMU microvm guest
// (minimal profile under TCG), rtnetlink TAP, iptables, the supervised Caddy and SQLite, all in
// a private network namespace and a private state root owned by this test process.
//
// Each test breaks the tenant in one way (kill -9 of its QEMU, which this test started through
// the daemon; deleting its TAP; deleting its Caddy routes; killing the gateway inside the
// guest), runs `molt`, and checks that the failed check is reported, repaired, and that the
// route answers /health again. Tests run in order on one tenant; the suite evicts it at the end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
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
#include "host/process/process.h"
#include "image/config_disk.h"

namespace lobster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

using CliRun = e2e::CmdResult;
using e2e::eventually;
using e2e::lobsterd_binary;
using e2e::sh;

e2e::StateRoot g_root("/tmp/lh" + std::to_string(::getpid()));
const std::string kTenant = "h1";

CliRun cli(const std::vector<std::string>& args, int64_t timeout_ms = 600'000) {
  return g_root.cli(args, timeout_ms);
}

// GET on the daemon's API socket (root passes the peer check).
json api_get(const std::string& path) {
  CliRun r = sh({"curl", "-sS", "--max-time", "10", "--unix-socket",
                 g_root.path() + "/run/api.sock", "http://localhost" + path});
  return json::parse(r.out, nullptr, false);
}

bool route_healthy() { return g_root.healthy(kTenant); }

// Runs `molt --json <tenant>` and returns the MoltResult (null on unparsable output).
json molt(int* exit_code = nullptr) {
  CliRun r = cli({"--json", "molt", kTenant}, 900'000);
  if (exit_code)
    *exit_code = r.exit;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

std::vector<std::string> failed(const json& checks) {
  std::vector<std::string> out;
  for (const auto& c : checks) {
    if (c.value("status", "") != "ok")
      out.push_back(c.value("check", ""));
  }
  return out;
}

const json* repair(const json& result, const std::string& name) {
  for (const auto& r : result["repairs"]) {
    if (r.value("repair", "") == name)
      return &r;
  }
  return nullptr;
}

class MoltE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    ASSERT_THAT(e2e::start_minimal_suite(g_root), testing::IsOk());
    CliRun spawn = cli({"spawn", kTenant}, 600'000);
    ASSERT_EQ(spawn.exit, 0) << spawn.out << spawn.err;
    ASSERT_TRUE(eventually(route_healthy, 60'000));
  }

  static void TearDownTestSuite() {
    if (::geteuid() == 0)
      g_root.destroy();
  }

  void SetUp() override { LOBSTER_E2E_REQUIRE_ROOT(); }
};

TEST_F(MoltE2e, HealthyTenantIsAlreadyHealthy) {
  CliRun r = cli({"molt", kTenant}, 300'000);
  EXPECT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Already healthy"));
  EXPECT_THAT(r.err, HasSubstr("Molting tenant \"h1\""));
  int code = -1;
  json j = molt(&code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(j.value("healthy", false), true) << j.dump();
  EXPECT_TRUE(j["repairs"].empty());
  EXPECT_EQ(j["initialChecks"].size(), 6u);  // health::kCheckOrder
}

TEST_F(MoltE2e, KilledVmIsColdBootedAndKeepsItsDisk) {
  ASSERT_EQ(cli({"exec", kTenant, "--", "sh", "-c", "echo keep-7315 > /root/m && sync"}).exit, 0);
  json t = api_get("/v1/tenants/" + kTenant);
  ASSERT_TRUE(t["vmPid"].is_number_integer()) << t.dump();
  pid_t pid = t["vmPid"].get<pid_t>();
  // Our own QEMU: this test started it through the daemon it runs.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Dead means gone or a zombie the daemon (its parent) has not reaped yet.
  ASSERT_TRUE(eventually(
      [&] {
        auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
        return !stat || stat->find(") Z ") != std::string::npos;
      },
      10'000));
  int code = -1;
  json j = molt(&code);
  EXPECT_EQ(code, 0) << j.dump(2);
  EXPECT_THAT(failed(j["initialChecks"]), ::testing::Contains("vm.process"));
  const json* r = repair(j, "vm.restart");
  ASSERT_NE(r, nullptr) << j.dump(2);
  EXPECT_TRUE(r->value("fixed", false)) << r->dump(2);
  EXPECT_TRUE(j.value("healthy", false));
  EXPECT_TRUE(failed(j["finalChecks"]).empty());
  EXPECT_TRUE(eventually(route_healthy, 30'000));
  CliRun cat = cli({"exec", kTenant, "--", "cat", "/root/m"});
  EXPECT_THAT(cat.out, HasSubstr("keep-7315")) << cat.err;
}

TEST_F(MoltE2e, DeletedTapIsRecreatedWithItsRules) {
  json t = api_get("/v1/tenants/" + kTenant);
  std::string tap = t.value("tap", "");
  ASSERT_FALSE(tap.empty()) << t.dump();
  ASSERT_EQ(sh({"ip", "link", "del", tap}).exit, 0);
  json j = molt();
  EXPECT_THAT(failed(j["initialChecks"]), ::testing::Contains("net.tap")) << j.dump(2);
  const json* net = repair(j, "net.recreate-tap");
  ASSERT_NE(net, nullptr) << j.dump(2);
  EXPECT_TRUE(net->value("fixed", false)) << net->dump(2);
  const json* vm = repair(j, "vm.restart");  // the old QEMU held the deleted device
  ASSERT_NE(vm, nullptr);
  EXPECT_TRUE(vm->value("fixed", false)) << vm->dump(2);
  EXPECT_TRUE(j.value("healthy", false));
  EXPECT_EQ(sh({"ip", "link", "show", tap}).exit, 0);
  EXPECT_TRUE(eventually(route_healthy, 30'000));
}

TEST_F(MoltE2e, DeletedCaddyRoutesAreReadded) {
  for (const std::string& id : {"lobster-" + kTenant, "lobster-" + kTenant + "-ws"}) {
    CliRun del =
        sh({"curl", "-sS", "-X", "DELETE", "--unix-socket", g_root.path() + "/run/caddy-admin.sock",
            "-H", "Host: ", "http://localhost/id/" + id});
    ASSERT_EQ(del.exit, 0) << del.err;
  }
  EXPECT_FALSE(route_healthy());
  json j = molt();
  EXPECT_EQ(failed(j["initialChecks"]), std::vector<std::string>{"net.caddy-route"}) << j.dump(2);
  const json* r = repair(j, "proxy.readd-routes");
  ASSERT_NE(r, nullptr) << j.dump(2);
  EXPECT_TRUE(r->value("fixed", false));
  EXPECT_TRUE(j.value("healthy", false));
  EXPECT_TRUE(eventually(route_healthy, 10'000));
}

TEST_F(MoltE2e, KilledGatewayIsRelaunched) {
  // lobster-init restarts a dead gateway with a doubling back-off (200 ms .. 10 s). Killing it
  // seven times in a row leaves a ~12 s window in which it is down; molt runs in that window.
  CliRun kill =
      cli({"exec", kTenant, "--", "sh", "-c",
           "n=0; i=0; while [ $n -lt 7 ] && [ $i -lt 600 ]; do "
           "p=$(pidof lobster-testgw); if [ -n \"$p\" ]; then kill -9 $p; n=$((n+1)); fi; "
           "i=$((i+1)); sleep 0.1; done; echo killed=$n"},
          120'000);
  ASSERT_THAT(kill.out, HasSubstr("killed=7")) << kill.err;
  json j = molt();
  EXPECT_THAT(failed(j["initialChecks"]), ::testing::Contains("net.gateway")) << j.dump(2);
  const json* r = repair(j, "gateway.ensure");
  ASSERT_NE(r, nullptr) << j.dump(2);
  EXPECT_TRUE(r->value("fixed", false)) << r->dump(2);
  EXPECT_TRUE(j.value("healthy", false));
  EXPECT_TRUE(eventually(route_healthy, 10'000));
}

TEST_F(MoltE2e, OutdatedOpenClawSettingsAreRewrittenAndMergedLive) {
  // A tenant made by an older lobsterd: no proxy trust on its config disk; inside the guest,
  // a setting made there (as `configure` would) that the sync must keep.
  const std::string disk_path = g_root.path() + "/lib/overlays/" + kTenant + ".cfg";
  auto disk = image::decode_config_disk(fs::read_file(disk_path).value_or(""));
  ASSERT_THAT(disk, testing::IsOk());
  json& gw = disk->openclaw_config["gateway"];
  ASSERT_TRUE(gw.contains("trustedProxies")) << disk->openclaw_config.dump();
  const json trusted = gw["trustedProxies"];
  gw.erase("trustedProxies");
  ASSERT_THAT(image::write_config_disk(disk_path, *disk), testing::IsOk());
  ASSERT_EQ(cli({"exec", kTenant, "--", "sh", "-c",
                 "cd /root/.openclaw && sed 's/^{/{\"guestOwn\": 7315,/' openclaw.json > n && "
                 "mv n openclaw.json"})
                .exit,
            0);
  json j = molt();
  EXPECT_EQ(failed(j["initialChecks"]), std::vector<std::string>{"gateway.config"}) << j.dump(2);
  const json* r = repair(j, "gateway.sync-config");
  ASSERT_NE(r, nullptr) << j.dump(2);
  EXPECT_TRUE(r->value("fixed", false)) << r->dump(2);
  EXPECT_TRUE(j.value("healthy", false));
  auto fixed = image::decode_config_disk(fs::read_file(disk_path).value_or(""));
  ASSERT_THAT(fixed, testing::IsOk());
  EXPECT_EQ(fixed->openclaw_config["gateway"]["trustedProxies"], trusted);
  CliRun cat = cli({"exec", kTenant, "--", "cat", "/root/.openclaw/openclaw.json"});
  json live = json::parse(cat.out, nullptr, false);
  ASSERT_TRUE(live.is_object()) << cat.out << cat.err;
  EXPECT_EQ(live["gateway"]["trustedProxies"], trusted);
  EXPECT_EQ(live.value("guestOwn", 0), 7315);
}

TEST_F(MoltE2e, ExecHoldsTheTenantWhileItRuns) {
  ASSERT_TRUE(api_get("/v1/tenants/" + kTenant + "/holds")["holds"].empty());
  CliRun session;
  std::thread exec([&] { session = cli({"exec", kTenant, "--", "sleep", "6"}, 120'000); });
  bool held = eventually(
      [] { return api_get("/v1/tenants/" + kTenant + "/holds")["holds"].size() == 1; }, 20'000);
  exec.join();
  EXPECT_TRUE(held);
  EXPECT_EQ(session.exit, 0) << session.err;
  EXPECT_TRUE(api_get("/v1/tenants/" + kTenant + "/holds")["holds"].empty());
  // The remote exit code comes back through the child ssh.
  EXPECT_EQ(cli({"exec", kTenant, "--", "sh", "-c", "exit 9"}).exit, 9);
}

TEST_F(MoltE2e, InteractiveExecKeepsTheTerminalAndSurvivesCtrlC) {
  // ssh runs as a child of the CLI now: it must still own the terminal (tmux gives a real one),
  // ^C must reach the remote command, not end the CLI, and the hold lasts the whole session.
  std::string sock = g_root.path() + "/tmux.sock";
  std::string cmd = lobsterd_binary() + " --root " + g_root.path() + " exec " + kTenant;
  ASSERT_EQ(sh({"tmux", "-S", sock, "new-session", "-d", "-x", "120", "-y", "30", cmd}).exit, 0);
  auto screen = [&] { return sh({"tmux", "-S", sock, "capture-pane", "-p"}).out; };
  auto type = [&](const std::string& keys) {
    sh({"tmux", "-S", sock, "send-keys", keys, "Enter"});
  };
  EXPECT_TRUE(eventually(
      [] { return api_get("/v1/tenants/" + kTenant + "/holds")["holds"].size() == 1; }, 20'000));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the remote shell print its prompt
  type("sleep 300; echo after-sleep-$((6*7))");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  sh({"tmux", "-S", sock, "send-keys", "C-c"});
  type("echo tty-$(tty | cut -c1-8)-$((6*7))");
  EXPECT_TRUE(
      eventually([&] { return screen().find("tty-/dev/pts-42") != std::string::npos; }, 20'000))
      << screen();
  EXPECT_EQ(screen().find("after-sleep-42"), std::string::npos) << screen();
  type("exit");
  EXPECT_TRUE(eventually(
      [&] {
        return sh({"tmux", "-S", sock, "has-session"}).exit != 0;
      },
      10'000));
  sh({"tmux", "-S", sock, "kill-server"});
  EXPECT_TRUE(eventually(
      [] { return api_get("/v1/tenants/" + kTenant + "/holds")["holds"].empty(); }, 10'000));
}

TEST_F(MoltE2e, SuspendedTenantIsResumedAndMolted) {
  ASSERT_EQ(cli({"suspend", kTenant}, 300'000).exit, 0);
  json j = molt();
  EXPECT_TRUE(j.value("resumed", false)) << j.dump(2);
  EXPECT_TRUE(j.value("healthy", false));
  EXPECT_EQ(api_get("/v1/tenants/" + kTenant).value("status", ""), "active");
  CliRun all = cli({"molt"}, 300'000);
  EXPECT_EQ(all.exit, 0) << all.out << all.err;
  EXPECT_THAT(all.out, HasSubstr("h1"));
}

}  // namespace
}  // namespace lobster
