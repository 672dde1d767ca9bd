// The README's main command end to end: `lobsterd demo` on a fresh state root (inside a
// private network namespace) builds the openclaw image, spawns the tenant `demo` running a
// real OpenClaw gateway and prints a curl line and an `openclaw gateway health` line. Then the
// clients users reach a tenant with, through Caddy: the printed curl line, the printed line
// with OpenClaw's own CLI (installed from npm here, not our code), a wrong token, a forged
// X-Forwarded-For, the control UI in headless Chromium, and the CLI as the first request
// after a suspend (the ingress wakes the tenant). Slow (image build + ~2 min TCG
// boot + the CLI's start-up), but it runs in CI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "e2e/common/harness.h"
#include "e2e/common/openclaw_clients.h"

namespace lobster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const std::string kHost = "demo.lobster.localhost";

e2e::StateRoot g_root("/tmp/ld" + std::to_string(::getpid()));
std::string g_clients;  // Node, OpenClaw's CLI and puppeteer-core (e2e/common/openclaw_clients.h)
json g_demo;            // `lobsterd --json demo`'s output

std::string source_dir() {
  const char* d = std::getenv("LOBSTER_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  return d != nullptr ? d : ".";
}

// OpenClaw's CLI keeps state in $HOME: a fresh one per run, inside the state root.
std::map<std::string, std::string> client_env() {
  return {{"PATH", e2e::clients_path(g_clients) + ":" +
                       std::filesystem::path(e2e::lobsterd_binary()).parent_path().string() +
                       ":/usr/sbin:/usr/bin:/sbin:/bin"},
          {"HOME", g_root.path() + "/client-home"},
          {"NO_COLOR", "1"}};
}

// Runs an OpenClaw CLI command line (through sh: the runner looks argv[0] up in this process's
// PATH, not in `env`'s) and returns its --json verdict ({} if there was none). A loaded CI host
// can make the WebSocket's opening handshake time out: a transport error is tried again, up to
// three times; any answer from the gateway is final.
json openclaw_cli(const std::string& line, const std::map<std::string, std::string>& env) {
  json out = json::object();
  for (int i = 0; i < 3; ++i) {
    e2e::CmdResult r = e2e::sh({"sh", "-c", line}, 180'000, env);
    out = json::parse(r.out, nullptr, false);
    if (!out.is_object()) {
      out = json::object({{"unparsable", r.out + r.err}});
      continue;
    }
    const json& err = out.contains("error") ? out["error"] : json::object();
    if (!err.is_object() || err.value("type", "") != "gateway_transport_error")
      break;
  }
  return out;
}

// Lines of the gateway's logs (lobster-init's capture of its output and OpenClaw's own log
// file) that contain `needle`. Every WebSocket the gateway closes before a completed handshake
// is logged with the forwarded-for (`fwd=`) it was given.
std::string gateway_log_lines(const std::string& needle) {
  return g_root
      .cli({"exec", "demo", "--", "sh", "-c",
            "cat /var/log/lobster/gateway.log /tmp/openclaw/*.log | grep -F -e '" + needle + "'"},
           60'000)
      .out;
}

// A WebSocket upgrade through Caddy that claims X-Forwarded-For `forged`; `from` is the local
// address the client connects from. The connection is dropped after 3 s, before a handshake.
void forged_upgrade(const std::string& from, const std::string& forged, const std::string& ua) {
  e2e::sh({"curl",
           "-sS",
           "-m",
           "3",
           "--http1.1",
           "--cacert",
           g_root.ca_file(),
           "--resolve",
           kHost + ":443:" + from,
           "-A",
           ua,
           "-H",
           "X-Forwarded-For: " + forged,
           "-H",
           "Connection: Upgrade",
           "-H",
           "Upgrade: websocket",
           "-H",
           "Sec-WebSocket-Version: 13",
           "-H",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
           "-o",
           "/dev/null",
           "https://" + kHost + "/"});
}

// The `fwd=` value of the gateway's log line for the request with user agent `ua` ("" if none).
std::string forwarded_seen(const std::string& ua) {
  std::smatch m;
  std::string lines = gateway_log_lines("ua=" + ua);
  std::regex re("fwd=(\\S+) origin=\\S+ host=\\S+ ua=" + ua + "\\b");
  return std::regex_search(lines, m, re) ? m[1].str() : "";
}

class DemoE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    // No config file: demo initializes on defaults.
    std::filesystem::remove_all(g_root.path());
    // Both download (Debian, npm), so they run before this process leaves the host's network
    // namespace; demo then finds the image and only verifies it.
    auto clients = e2e::ensure_openclaw_clients();
    ASSERT_THAT(clients, testing::IsOk());
    g_clients = *clients;
    e2e::CmdResult build = g_root.cli({"image", "build", "--profile", "openclaw"}, 30 * 60'000);
    ASSERT_EQ(build.exit, 0) << build.err;
    ASSERT_TRUE(e2e::enter_private_netns().has_value());
    // A second local address: a client that is not on loopback (as a remote user would be).
    ASSERT_EQ(e2e::sh({"ip", "addr", "add", "198.51.100.7/32", "dev", "lo"}).exit, 0);
    e2e::CmdResult demo = g_root.cli({"--json", "demo"}, 40 * 60'000);
    g_demo = json::parse(demo.out, nullptr, false);
    ASSERT_EQ(demo.exit, 0) << demo.out << "\n" << demo.err << g_root.diagnostics("demo");
    ASSERT_TRUE(g_demo.is_object()) << demo.out;
  }

  static void TearDownTestSuite() {
    if (::geteuid() != 0)
      return;
    g_root.destroy();
  }

  void SetUp() override {
    LOBSTER_E2E_REQUIRE_ROOT();
    ASSERT_TRUE(g_demo.is_object()) << "demo did not come up";
  }
  void TearDown() override {
    if (HasFailure())
      ADD_FAILURE() << g_root.diagnostics("demo");
  }
};

TEST_F(DemoE2e, PrintedCurlLineReachesTheOpenClawGateway) {
  EXPECT_FALSE(g_demo.value("token", "").empty());
  std::string curl = g_demo.value("curl", "");
  ASSERT_FALSE(curl.empty()) << g_demo.dump();
  // Run exactly the printed line.
  e2e::CmdResult r = e2e::sh({"sh", "-c", curl + " -sS -o /dev/null -w '%{http_code}'"});
  EXPECT_EQ(r.out, "200") << r.err;
}

TEST_F(DemoE2e, PrintedOpenClawLineReportsTheGatewayHealthyOverWss) {
  std::string line = g_demo.value("openclaw", "");
  ASSERT_THAT(line, HasSubstr("OPENCLAW_GATEWAY_URL=wss://" + kHost));
  ASSERT_THAT(line, HasSubstr("openclaw gateway health"));
  EXPECT_THAT(line, Not(HasSubstr(g_demo.value("token", "<none>"))));  // never in argv
  // Exactly the printed line, with --json added so its verdict can be read.
  json health = openclaw_cli(line + " --json", client_env());
  EXPECT_EQ(health.value("ok", false), true) << health.dump();
}

TEST_F(DemoE2e, OpenClawCliWithAWrongTokenIsRefused) {
  auto env = client_env();
  env["NODE_EXTRA_CA_CERTS"] = g_root.ca_file();
  env["OPENCLAW_GATEWAY_URL"] = "wss://" + kHost;
  env["OPENCLAW_GATEWAY_TOKEN"] = "not-the-token-0123456789abcdef";
  json health = openclaw_cli("openclaw gateway health --timeout 30000 --json", env);
  EXPECT_EQ(health.value("ok", true), false);
  EXPECT_THAT(health.dump(), HasSubstr("AUTH_TOKEN_MISMATCH"));
}

TEST_F(DemoE2e, ClientSuppliedForwardedForNeverReachesTheGateway) {
  // From loopback (a client on this host) and from another local address (as a remote client
  // would be), each claiming to be 203.0.113.9.
  forged_upgrade("127.0.0.1", "203.0.113.9", "lobster-forge-lo");
  forged_upgrade("198.51.100.7", "203.0.113.9", "lobster-forge-remote");
  std::string lo, remote;
  ASSERT_TRUE(e2e::eventually(
      [&] {
        lo = forwarded_seen("lobster-forge-lo");
        remote = forwarded_seen("lobster-forge-remote");
        return !lo.empty() && !remote.empty();
      },
      30'000, 1000))
      << gateway_log_lines("lobster-forge");
  EXPECT_EQ(lo, "0.0.0.0");  // "this host": OpenClaw refuses a proxied loopback client
  EXPECT_EQ(remote, "198.51.100.7");
  // Counted where the lines above were found: the forged address is nowhere in the logs.
  e2e::CmdResult count =
      g_root.cli({"exec", "demo", "--", "sh", "-c",
                  "cat /var/log/lobster/gateway.log /tmp/openclaw/*.log | grep -c -F 203.0.113.9"},
                 60'000);
  EXPECT_EQ(count.out, "0\n") << count.err;
}

TEST_F(DemoE2e, ControlUiConnectsInChromiumAfterTheOperatorApprovesIt) {
  const char* bin = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::string artifacts = std::string(bin != nullptr ? bin : "/tmp") + "/test-artifacts";
  std::filesystem::create_directories(artifacts);
  std::string shot = artifacts + "/control-ui.png";
  std::filesystem::remove(shot);
  auto env = client_env();
  // The script lives in the source tree; node resolves puppeteer-core from a module's own
  // directory, so it runs from a copy beside the installed packages.
  std::filesystem::create_directories(g_clients + "/lobster-test-scripts");
  std::string script = g_clients + "/lobster-test-scripts/control_ui.mjs";
  std::filesystem::copy_file(source_dir() + "/tests/e2e/demo/control_ui.mjs", script,
                             std::filesystem::copy_options::overwrite_existing);
  e2e::CmdResult r = e2e::sh(
      {e2e::node_binary(g_clients), script, "https://" + kHost, g_demo.value("token", ""), shot,
       "240000", e2e::lobsterd_binary(), "--root", g_root.path(), "devices", "demo", "approve"},
      900'000, env);
  json ui = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(ui.is_object()) << r.out << r.err;
  EXPECT_EQ(ui.value("pageStatus", 0), 200) << r.out;
  EXPECT_THAT(ui.value("title", ""), HasSubstr("OpenClaw")) << r.out;
  EXPECT_EQ(ui.value("wsUrl", ""), "wss://" + kHost + "/") << r.out;
  EXPECT_EQ(ui.value("wsStatus", 0), 101) << r.out;
  EXPECT_TRUE(ui.value("pairingRequested", false)) << r.out;
  EXPECT_EQ(ui.value("approved", json()), true) << r.out;
  EXPECT_TRUE(ui.value("helloOk", false)) << r.out;
  EXPECT_TRUE(std::filesystem::exists(shot));
  std::cout << "control UI screenshot: " << shot << "\n";
}

// Last: the tenant ends suspended and woken. OpenClaw's CLI is the first client after a
// suspend; the ingress holds its connection, wakes the tenant, and the CLI gets its answer.
TEST_F(DemoE2e, OpenClawCliAsTheFirstRequestWakesASuspendedTenant) {
  e2e::CmdResult suspend = g_root.cli({"suspend", "demo"}, 600'000);
  ASSERT_EQ(suspend.exit, 0) << suspend.out << suspend.err;
  json t = json::parse(g_root.cli({"--json", "tank"}, 120'000).out, nullptr, false);
  ASSERT_TRUE(t.is_array() && !t.empty()) << t.dump();
  ASSERT_EQ(t[0].value("status", ""), "suspended") << t.dump();
  json health = openclaw_cli(g_demo.value("openclaw", "") + " --json", client_env());
  EXPECT_EQ(health.value("ok", false), true) << health.dump();
  t = json::parse(g_root.cli({"--json", "tank"}, 120'000).out, nullptr, false);
  ASSERT_TRUE(t.is_array() && !t.empty()) << t.dump();
  EXPECT_EQ(t[0].value("status", ""), "active") << t.dump();
  EXPECT_GE(t[0]["ingress"].value("wakes", 0), 1) << t.dump();
}

}  // namespace
}  // namespace lobster
