#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/fs.h"
#include "core/testing/matchers.h"

namespace lobster {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

const Paths kPaths = Paths::under("/tmp/lobster-config-test");

Error parse_error(std::string_view text) {
  auto r = parse_config(text, kPaths);
  EXPECT_FALSE(r.has_value()) << text;
  return r.has_value() ? Error{} : r.error();
}

TEST(ConfigTest, EmptyObjectGivesSpecDefaults) {
  auto c = parse_config("{}", kPaths);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->firecracker.default_vcpu_count, 2);
  EXPECT_EQ(c->firecracker.default_mem_size_mb, 1024);
  EXPECT_EQ(c->network.subnet_base, "10.0.0.0");
  EXPECT_EQ(c->vsock.agent_port, 52);
  EXPECT_EQ(c->vsock.health_port, 53);
  EXPECT_EQ(c->watchdog.cron_wake_ahead_ms, 15000);
  EXPECT_EQ(c->overlay.default_size_mb, 4096);
  EXPECT_EQ(c->caddy.domain, "lobster.localhost");
  EXPECT_EQ(c->jailer.chroot_base_dir, "/tmp/lobster-config-test/lib/jail");
  EXPECT_EQ(c->firecracker.network_rx_rate_limit->bandwidth->size, 1250000);
  EXPECT_EQ(c->firecracker.disk_rate_limit->ops->size, 5000);
  EXPECT_EQ(c->openclaw.default_config["gateway"]["port"], 9000);
  EXPECT_EQ(c->vmm.driver, VmmDriverKind::kAuto);
  EXPECT_FALSE(c->buoy.has_value());
}

TEST(ConfigTest, RoundTripsEveryKey) {
  Config c = Config::defaults(kPaths);
  c.caddy.domain = "example.org";
  c.caddy.tls_cert_path = "/c.pem";
  c.caddy.tls_key_path = "/k.pem";
  c.buoy = Config::Buoy{};
  c.buoy->port = 7071;
  c.vmm.driver = VmmDriverKind::kQemu;
  c.image.default_profile = "minimal";
  std::string text = config_to_json(c).dump(2);
  auto back = parse_config(text, kPaths);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(config_to_json(*back), config_to_json(c));
}

TEST(ConfigTest, InvalidJsonIsConfigInvalid) {
  Error e = parse_error("{\"caddy\": ");
  EXPECT_EQ(e.code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(e.message, HasSubstr("not valid JSON"));
}

TEST(ConfigTest, UnknownKeyNamesPath) {
  EXPECT_THAT(parse_error(R"({"watchdog": {"intervalMs": 5000, "bogus": 1}})").message,
              HasSubstr("watchdog.bogus: unknown key"));
  EXPECT_THAT(parse_error(R"({"nope": {}})").message, HasSubstr("nope: unknown key"));
  EXPECT_THAT(
      parse_error(R"({"firecracker": {"diskRateLimit": {"ops": {"size": 1, "refillTime": 1, "x": 2}}}})")
          .message,
      HasSubstr("firecracker.diskRateLimit.ops.x: unknown key"));
}

TEST(ConfigTest, WrongTypeNamesPath) {
  Error e = parse_error(R"({"caddy": {"domain": 42}})");
  EXPECT_EQ(e.code, ErrorCode::kConfigInvalid);
  EXPECT_THAT(e.message, HasSubstr("caddy.domain: expected a non-empty string, got an integer"));
  EXPECT_THAT(parse_error(R"({"watchdog": "fast"})").message,
              HasSubstr("watchdog: expected an object"));
  EXPECT_THAT(parse_error(R"({"buoy": {"agentLockdown": "yes"}})").message,
              HasSubstr("buoy.agentLockdown: expected a boolean"));
}

TEST(ConfigTest, OutOfRangeNamesPath) {
  EXPECT_THAT(parse_error(R"({"watchdog": {"intervalMs": 5}})").message,
              HasSubstr("watchdog.intervalMs: expected an integer >= 1000, got an integer (5)"));
  EXPECT_THAT(parse_error(R"({"firecracker": {"defaultVcpuCount": 33}})").message,
              HasSubstr("firecracker.defaultVcpuCount: expected an integer in 1..32"));
  EXPECT_THAT(parse_error(R"({"network": {"subnetBase": "10.0.0"}})").message,
              HasSubstr("network.subnetBase"));
  EXPECT_THAT(parse_error(R"({"vmm": {"driver": "kvmtool"}})").message,
              HasSubstr("vmm.driver: expected one of auto|qemu|firecracker"));
  EXPECT_THAT(parse_error(R"({"vsock": {"agentPort": 1.5}})").message,
              HasSubstr("vsock.agentPort"));
}

TEST(ConfigTest, SaveIsAtomicAndPrivate) {
  std::string root = ::testing::TempDir() + "/cfgsave" + std::to_string(::getpid());
  Paths p = Paths::under(root);
  Config c = Config::defaults(p);
  c.caddy.domain = "saved.example";
  ASSERT_THAT(save_config(p, c), IsOk());
  struct stat st {};
  ASSERT_EQ(::stat(p.config_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_config(p);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->caddy.domain, "saved.example");
  // No temp files left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(p.config_dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  ASSERT_THAT(fs::write_file_atomic(p.config_file(), "{\"caddy\": {\"domain\": 1}}"), IsOk());
  EXPECT_THAT(load_config(p), HasError(ErrorCode::kConfigInvalid));
  std::filesystem::remove_all(root);
}

TEST(ConfigTest, MissingFileMeansDefaults) {
  Paths p = Paths::under(::testing::TempDir() + "/nonexistent-root-xyz");
  auto c = load_config(p);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->caddy.domain, "lobster.localhost");
}

}  // namespace
}  // namespace lobster
