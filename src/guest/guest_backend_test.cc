// The real GuestBackend on the host: temp paths instead of /root and /var/log, a /bin/sleep
// child as the gateway. RPC-backed methods are exercised without a gateway (their
// "not running" paths); the RPC itself is covered by the openclaw e2e suite.
#include "guest/guest_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "guest/protocol.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

class GuestBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lobster-backend-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    paths_.log_dir = dir_ + "/log";
    paths_.ssh_dir = dir_ + "/root/.ssh";
    paths_.openclaw_dir = dir_ + "/root/.openclaw";
    paths_.dropbear_dir = dir_ + "/etc/dropbear";
    paths_.proc_net_tcp = dir_ + "/tcp";
    paths_.proc_net_tcp6 = dir_ + "/tcp6";
    std::filesystem::create_directories(paths_.log_dir);
    loop_ = std::move(*EventLoop::create());
    gateway_ = std::make_unique<Service>(*loop_,
                                         ServiceSpec{.name = "gateway",
                                                     .argv = {"/bin/sleep", "60"},
                                                     .env = {},
                                                     .cwd = "/",
                                                     .log_path = paths_.log("gateway")},
                                         [](const std::string&) {});
    backend_ = std::make_unique<GuestBackend>(
        *loop_, paths_, gateway_.get(), std::map<std::string, std::string>{},
        GuestBackend::DeviceSeed{}, "", [this](const std::string& n) { notes_.push_back(n); },
        [this] { shutdown_called_ = true; });
  }
  void TearDown() override {
    if (gateway_->running()) {
      pid_t pid = gateway_->pid();
      gateway_->stop(SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    backend_.reset();
    gateway_.reset();
    std::filesystem::remove_all(dir_);
  }
  json sync(void (GuestBackend::*method)(ReplyFn)) {
    json out;
    (backend_.get()->*method)([&](json r) { out = std::move(r); });
    return out;
  }
  static mode_t mode_of(const std::string& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
  }

  std::string dir_;
  GuestPaths paths_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Service> gateway_;
  std::unique_ptr<GuestBackend> backend_;
  std::vector<std::string> notes_;
  bool shutdown_called_ = false;
};

TEST_F(GuestBackendTest, GatewayNeedsATokenThenLaunchesOnce) {
  EXPECT_EQ(backend_->ensure_gateway(), error_reply("No gateway token available"));
  EXPECT_EQ(backend_->get_stats()["gatewayPid"], nullptr);
  json ack = backend_->inject_secrets({{"OPENCLAW_GATEWAY_TOKEN", "gw"}});
  EXPECT_EQ(ack["reply"], "ACK");
  ASSERT_TRUE(gateway_->running());  // a token arriving starts the gateway
  json again = backend_->ensure_gateway();
  EXPECT_EQ(again["status"], "already-running");
  EXPECT_EQ(again["pid"], gateway_->pid());
  json stats = backend_->get_stats();
  EXPECT_EQ(stats["gatewayPid"], gateway_->pid());
  EXPECT_GT(stats["memoryKb"].get<int64_t>(), 0);
}

TEST_F(GuestBackendTest, InjectSecretsWritesPrivateFiles) {
  json r = backend_->inject_secrets(
      {{"SSH_AUTHORIZED_KEY", "ssh-ed25519 AAAA k"},
       {"OPENCLAW_CONFIG", R"({"agents":{"defaults":{"heartbeat":{"every":"30m"}}}})"}});
  EXPECT_EQ(r["reply"], "ACK");
  EXPECT_FALSE(r.contains("warnings"));
  EXPECT_EQ(fs::read_file(paths_.authorized_keys()).value_or(""), "ssh-ed25519 AAAA k\n");
  EXPECT_EQ(mode_of(paths_.authorized_keys()), 0600u);
  EXPECT_EQ(mode_of(paths_.ssh_dir), 0700u);
  EXPECT_EQ(mode_of(paths_.openclaw_json()), 0600u);
  // No gateway running: the schedule is projected from now with the configured interval.
  json hb = sync(&GuestBackend::get_heartbeat_schedule);
  EXPECT_EQ(hb["enabled"], true);
  EXPECT_EQ(hb["intervalMs"], 1'800'000);

  json bad = backend_->inject_secrets({{"OPENCLAW_CONFIG", "not json"}});
  EXPECT_EQ(bad["warnings"][0], "OPENCLAW_CONFIG is not a JSON object");
}

TEST_F(GuestBackendTest, OpenClawConfigIsMergedSoGuestSettingsSurvive) {
  // What the guest's own `configure` wrote, then the host's managed settings on top of it.
  ASSERT_TRUE(fs::ensure_dir(paths_.openclaw_dir, 0700).has_value());
  std::ofstream(paths_.openclaw_json())
      << R"({"agents":{"defaults":{"model":"m1"}},"gateway":{"port":1,"trustedProxies":["x"]}})";
  json managed = {{"gateway", {{"port", 9000}, {"trustedProxies", {"10.0.0.5"}}}}};
  ASSERT_TRUE(merge_openclaw_config(paths_, managed).has_value());
  json doc = json::parse(fs::read_file(paths_.openclaw_json()).value_or("{}"));
  EXPECT_EQ(doc["agents"]["defaults"]["model"], "m1");
  EXPECT_EQ(doc["gateway"]["port"], 9000);
  EXPECT_EQ(doc["gateway"]["trustedProxies"], json::array({"10.0.0.5"}));
  EXPECT_EQ(mode_of(paths_.openclaw_json()), 0600u);
  // A damaged file is replaced by the managed settings alone.
  std::ofstream(paths_.openclaw_json(), std::ios::trunc) << "{not json";
  ASSERT_TRUE(merge_openclaw_config(paths_, managed).has_value());
  EXPECT_EQ(json::parse(fs::read_file(paths_.openclaw_json()).value_or("{}")), managed);
}

TEST_F(GuestBackendTest, HeartbeatDisabledWithoutConfig) {
  json hb = sync(&GuestBackend::get_heartbeat_schedule);
  EXPECT_EQ(hb, (json{{"ok", true}, {"enabled", false}, {"intervalMs", 0}, {"nextBeatAtMs", 0}}));
}

TEST_F(GuestBackendTest, ConnectionsCountGatewayClientsAndHolds) {
  std::ofstream(paths_.proc_net_tcp) << "  sl  local_address rem_address   st\n"
                                     << "   0: 0600000A:2328 0500000A:C350 01 0\n"
                                     << "   1: 0600000A:0016 0500000A:C351 01 0\n";
  std::ofstream(paths_.proc_net_tcp6)
      << "  sl  local_address remote_address st\n"
      << "   0: 0000000000000000FFFF00000600000A:2328 0000000000000000FFFF00000500000A:D431 01 0\n";
  EXPECT_EQ(backend_->hold_acquire("h", 60'000), json({{"ok", true}}));
  json c = sync(&GuestBackend::get_active_connections);
  EXPECT_EQ(c, (json{{"ok", true}, {"tcp", 2}, {"cron", 0}, {"hold", 1}}));
  EXPECT_EQ(backend_->hold_release("h")["released"], true);
}

TEST_F(GuestBackendTest, CronMethodsNeedARunningGateway) {
  EXPECT_EQ(sync(&GuestBackend::get_cron_schedules), error_reply("Gateway not running"));
  EXPECT_EQ(sync(&GuestBackend::poke_cron), error_reply("Gateway not running"));
}

TEST_F(GuestBackendTest, LogsAndShutdown) {
  {
    RotatingLog log(paths_.log("dropbear"), 1 << 20);
    log.append(std::string(5000, 'a') + "tail-marker\n");
  }
  json logs = backend_->get_logs(LogService::kDropbear);
  EXPECT_EQ(logs["service"], "dropbear");
  EXPECT_EQ(logs["logs"].get<std::string>().size(), 4000u);
  EXPECT_TRUE(logs["logs"].get<std::string>().ends_with("tail-marker\n"));
  EXPECT_EQ(backend_->get_logs(LogService::kAgent)["logs"], "");

  EXPECT_EQ(backend_->shutdown()["reply"], "ACK");
  EXPECT_FALSE(shutdown_called_);  // deferred so the reply leaves first
  for (int i = 0; i < 100 && !shutdown_called_; ++i) {
    (void)loop_->run_once(20);
  }
  EXPECT_TRUE(shutdown_called_);
}

}  // namespace
}  // namespace lobster::guest
