// End-to-end: a real Caddy supervised by CaddyProxy inside a private network namespace, routing
// <tenant>.lobster.localhost over HTTPS (internal CA) to a loopback backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "core/testing/loopback_server.h"
#include "core/testing/matchers.h"
#include "host/process/process.h"
#include "proxy/caddy_proxy.h"

namespace lobster::proxy {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

bool in_ci() { return std::getenv("CI") != nullptr; }  // NOLINT(concurrency-mt-unsafe)

// A tiny HTTP backend on 127.0.0.1:<port>: answers "backend-<name>" or 101 for upgrades.
class Backend {
 public:
  Backend(std::string name, uint16_t port)
      : name_(std::move(name)),
        server_(
            "\r\n\r\n", [this](const std::string& req) { return answer(req); }, port) {
    EXPECT_TRUE(server_.listening()) << "port " << port;
  }
  std::atomic<int> upgrades{0};

 private:
  std::optional<std::string> answer(const std::string& req) {
    if (req.find("Upgrade: websocket") != std::string::npos ||
        req.find("upgrade: websocket") != std::string::npos) {
      ++upgrades;
      return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    }
    std::string body = "backend-" + name_;
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }
  std::string name_;
  testing::LoopbackServer server_;  // last: its thread stops before name_ goes
};

class CaddyProxyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      if (in_ci())
        FAIL() << "needs root";
      GTEST_SKIP() << "needs root (network namespace)";
    }
    if (!process::find_executable("caddy")) {
      if (in_ci())
        FAIL() << "caddy missing";
      GTEST_SKIP() << "caddy not installed";
    }
    // Private network namespace for this test thread and everything it starts.
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
    ASSERT_THAT(runner_.run_checked({"ip", "link", "set", "lo", "up"}), IsOk());
    root_ = "/tmp/lpx-" + std::to_string(::getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    options_.domain = "lobster.localhost";
    options_.admin_socket = root_ + "/admin.sock";
    options_.storage_dir = root_ + "/data";
    launch_.caddy_binary = *process::find_executable("caddy");
    launch_.config_file = root_ + "/caddy.json";
    launch_.pid_file = root_ + "/caddy.pid";
    launch_.home_dir = root_ + "/home";
    launch_.log_file = root_ + "/caddy.log";
  }
  void TearDown() override {
    if (proxy_) {
      EXPECT_THAT(proxy_->stop_caddy(), IsOk());
    }
    proxy_.reset();
    if (!root_.empty())
      std::filesystem::remove_all(root_);
  }

  // GET https://<tenant>.lobster.localhost/ through Caddy; returns curl's stdout.
  std::string get(const std::string& tenant, const std::vector<std::string>& extra = {}) {
    std::string host = tenant + ".lobster.localhost";
    std::vector<std::string> argv = {"curl",
                                     "-sS",
                                     "-i",
                                     "--max-time",
                                     "3",
                                     "--resolve",
                                     host + ":443:127.0.0.1",
                                     "--cacert",
                                     proxy_->ca_root_path()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + host + "/");
    auto r = runner_.run(argv, {.timeout_ms = 10'000});
    return r ? r->out : std::string();
  }

  // Bounded wait until `tenant` answers with `want` (first certificate issuance takes a moment).
  bool eventually_serves(const std::string& tenant, const std::string& want, int max_ms) {
    for (int waited = 0; waited < max_ms; waited += 250) {
      if (get(tenant).find(want) != std::string::npos)
        return true;
      ::usleep(250'000);
    }
    return false;
  }

  process::PosixProcessRunner runner_;
  std::string root_;
  ProxyOptions options_;
  CaddyLaunch launch_;
  std::unique_ptr<CaddyProxy> proxy_;
};

TEST_F(CaddyProxyE2eTest, RoutesTenantsAndSurvivesCaddyKill) {
  Backend a("a", 19001), b("b", 19002);
  auto p = CaddyProxy::start(options_, launch_, {{"ta", "127.0.0.1:19001"}});
  ASSERT_THAT(p, IsOk());
  proxy_ = std::move(*p);
  EXPECT_TRUE(eventually_serves("ta", "backend-a", 10'000)) << get("ta");

  ASSERT_THAT(proxy_->add_tenant({"tb", "127.0.0.1:19002"}), IsOk());
  EXPECT_TRUE(eventually_serves("tb", "backend-b", 10'000)) << get("tb");
  // Allowed path and blocked path side by side: an unknown tenant gets no backend.
  EXPECT_THAT(get("nobody"), ::testing::Not(HasSubstr("backend-")));

  auto ids = proxy_->live_route_ids();
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(*ids, (std::vector<std::string>{"lobster-ta-ws", "lobster-ta", "lobster-tb-ws",
                                            "lobster-tb"}));

  // WebSocket upgrade goes through the -ws route to the same backend.
  std::string ws =
      get("tb", {"--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
                 "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_THAT(ws, HasSubstr("101 Switching Protocols"));
  EXPECT_GE(b.upgrades.load(), 1);

  // Kill Caddy: the supervisor restarts it from the persisted full config.
  int pid = proxy_->caddy_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(eventually_serves("ta", "backend-a", 5'000));
  EXPECT_TRUE(eventually_serves("tb", "backend-b", 5'000));
  EXPECT_NE(proxy_->caddy_pid(), pid);

  ASSERT_THAT(proxy_->remove_tenant("tb"), IsOk());
  EXPECT_THAT(get("tb"), ::testing::Not(HasSubstr("backend-b")));
  EXPECT_TRUE(eventually_serves("ta", "backend-a", 5'000));
  ASSERT_THAT(proxy_->sync({}), IsOk());
  ids = proxy_->live_route_ids();
  ASSERT_THAT(ids, IsOk());
  EXPECT_TRUE(ids->empty());
}

TEST_F(CaddyProxyE2eTest, AdminSocketIsPrivate) {
  auto p = CaddyProxy::start(options_, launch_, {});
  ASSERT_THAT(p, IsOk());
  proxy_ = std::move(*p);
  struct stat st {};
  ASSERT_EQ(::stat(options_.admin_socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(launch_.config_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace lobster::proxy
