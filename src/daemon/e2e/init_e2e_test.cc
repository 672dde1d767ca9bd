// End-to-end: `lobsterd init / status / uninit` on a temporary state root (issue 3, done-when
// items 2 and 3).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daemon/e2e/e2e_util.h"
#include "store/sqlite_store.h"

namespace lobster::e2e {
namespace {

using ::testing::HasSubstr;

class InitE2eTest : public E2eRoot {};

TEST_F(InitE2eTest, InitStatusUninit) {
  CliResult init = lobsterd({"init", "-y"});
  ASSERT_EQ(init.code, 0) << init.err << init.out;
  struct stat st {};
  ASSERT_EQ(::stat(socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(config_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CliResult status = lobsterd({"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.err;
  nlohmann::json s = status.json();
  ASSERT_TRUE(s.is_object()) << status.out;
  EXPECT_EQ(s["root"], root_);
  EXPECT_EQ(s["tenantCount"], 0);
  EXPECT_EQ(s["domain"], "lobster.localhost");
  EXPECT_EQ(s["preflight"].size(), 8u);
  pid_t pid = s["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(process::process_exited(pid));

  CliResult human = lobsterd({"status"});
  EXPECT_EQ(human.code, 0);
  EXPECT_THAT(human.out, HasSubstr(fmt::format("running (pid {}", pid)));

  CliResult uninit = lobsterd({"uninit", "-y"});
  ASSERT_EQ(uninit.code, 0) << uninit.err;
  EXPECT_TRUE(process::process_exited(pid));
  EXPECT_FALSE(fs::exists(root_ + "/etc"));
  EXPECT_FALSE(fs::exists(root_ + "/lib"));
  EXPECT_FALSE(fs::exists(socket()));

  CliResult after = lobsterd({"status", "--json"});
  EXPECT_EQ(after.code, 6);
  EXPECT_EQ(after.json()["error"]["code"], "DAEMON_NOT_RUNNING");
}

TEST_F(InitE2eTest, ReinitKeepsConfigAndPersistsNewDomain) {
  ASSERT_EQ(lobsterd({"init", "-y"}).code, 0);
  // The operator tunes a key by hand; re-running init must keep it.
  auto text = fs::read_file(config_file());
  ASSERT_TRUE(text.has_value());
  nlohmann::json doc = nlohmann::json::parse(*text);
  doc["watchdog"]["intervalMs"] = 20000;
  ASSERT_TRUE(fs::write_file_atomic(config_file(), doc.dump(2), 0600).has_value());

  CliResult again = lobsterd({"init", "--domain", "agents.example.test", "-y", "--json"});
  ASSERT_EQ(again.code, 0) << again.err << again.out;
  EXPECT_EQ(again.json()["config"], "updated");
  nlohmann::json after = nlohmann::json::parse(*fs::read_file(config_file()));
  EXPECT_EQ(after["caddy"]["domain"], "agents.example.test");
  EXPECT_EQ(after["watchdog"]["intervalMs"], 20000);
  doc["caddy"]["domain"] = "agents.example.test";
  EXPECT_EQ(after, doc);  // nothing else changed

  // The daemon was restarted and serves the new config.
  CliResult status = lobsterd({"--json", "status"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(status.json()["domain"], "agents.example.test");

  CliResult third = lobsterd({"init", "-y", "--json"});
  ASSERT_EQ(third.code, 0);
  EXPECT_EQ(third.json()["config"], "kept");
  EXPECT_EQ(third.json()["daemon"]["state"], "already running");
}

TEST_F(InitE2eTest, UninitRefusesWhileTenantsExist) {
  ASSERT_EQ(lobsterd({"init", "-y"}).code, 0);
  {
    // Tenant spawning is another module; put the rows in the store directly (it is safe to
    // share between processes).
    auto store = store::SqliteStore::open(root_ + "/lib/state.db");
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    for (const char* name : {"alpha", "beta"}) {
      store::NewTenant t{.name = name,
                         .profile = "minimal",
                         .vcpus = 1,
                         .mem_mb = 256,
                         .agent_token = "a",
                         .gateway_token = "g"};
      ASSERT_TRUE((*store)->create_tenant(t, {.max_subnet_index = 8}, store::Actor::uid(0)));
    }
  }
  CliResult r = lobsterd({"--json", "uninit", "-y"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.json()["error"]["code"], "UNINIT_FAILED");
  EXPECT_THAT(r.json()["error"]["message"].get<std::string>(), HasSubstr("2 tenant(s)"));
  EXPECT_THAT(r.json()["error"]["message"].get<std::string>(), HasSubstr("alpha, beta"));
  EXPECT_EQ(lobsterd({"status"}).code, 0);  // refused before stopping the daemon

  // Without a daemon the store itself is consulted.
  auto holder = daemon::PidFile::holder(root_ + "/run/lobsterd.pid");
  ASSERT_TRUE(holder && *holder);
  ASSERT_EQ(::kill(**holder, SIGTERM), 0);
  for (int i = 0; i < 500 && !process::process_exited(**holder); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CliResult offline = lobsterd({"uninit", "-y"});
  EXPECT_EQ(offline.code, 1);
  EXPECT_THAT(offline.err, HasSubstr("alpha, beta"));
  EXPECT_TRUE(fs::exists(root_ + "/lib/state.db"));
}

TEST_F(InitE2eTest, InvalidConfigIsRefusedAndNothingIsWritten) {
  const std::pair<const char*, const char*> kCases[] = {
      {"{\"caddy\": {\"domain\": \"x\",}", "not valid JSON"},
      {R"({"caddy": {"domian": "x"}})", "caddy.domian"},
      {R"({"watchdog": {"intervalMs": "fast"}})", "watchdog.intervalMs"},
      {R"({"firecracker": {"defaultVcpuCount": 64}})", "firecracker.defaultVcpuCount"},
  };
  for (const auto& [text, key] : kCases) {
    ASSERT_TRUE(fs::ensure_dir(root_ + "/etc", 0711).has_value());
    ASSERT_TRUE(fs::write_file_atomic(config_file(), text, 0600).has_value());
    CliResult r = lobsterd({"--json", "init", "--domain", "new.example.test", "-y"});
    EXPECT_EQ(r.code, 2) << text;
    nlohmann::json j = r.json();
    EXPECT_EQ(j["error"]["code"], "CONFIG_INVALID") << r.out;
    EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr(key));
    EXPECT_EQ(*fs::read_file(config_file()), text);  // byte for byte
    EXPECT_FALSE(fs::exists(root_ + "/run")) << "init wrote something for " << text;
    EXPECT_FALSE(fs::exists(root_ + "/lib"));

    CliResult human = lobsterd({"init", "-y"});
    EXPECT_EQ(human.code, 2);
    EXPECT_THAT(human.err, HasSubstr("error: "));
    EXPECT_THAT(human.err, HasSubstr(key));
  }
}

}  // namespace
}  // namespace lobster::e2e
