// End-to-end: a real Caddy supervised by CaddyProxy inside a private network namespace, with
// the static config: every <tenant>.lobster.localhost goes over HTTPS (internal CA) to one
// Unix-socket upstream (the ingress's place; here a small recording backend).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "guest/ws/http.h"
#include "host/process/process.h"
#include "proxy/caddy_proxy.h"

namespace lobster::proxy {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

bool in_ci() { return std::getenv("CI") != nullptr; }  // NOLINT(concurrency-mt-unsafe)

// Answers every request on a Unix socket with "backend saw <Host>" (101 for upgrades) and
// keeps the last request head it received.
class UnixBackend {
 public:
  explicit UnixBackend(const std::string& path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    // Kernel ABI: sockaddr_un is the sockaddr for AF_UNIX.
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_.get(), 16), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~UnixBackend() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string last_head() {
    std::lock_guard lock(mu_);
    return last_;
  }
  std::atomic<int> connections{0};

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c)
        continue;
      ++connections;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      auto head = guest::ws::read_http_head(c.get(), deadline, 16384);
      if (!head)
        continue;
      {
        std::lock_guard lock(mu_);
        last_ = head->head;
      }
      auto req = guest::ws::parse_http_request(head->head);
      std::string host = req ? std::string(req->headers.get("Host").value_or("")) : "";
      std::string answer;
      if (req && req->headers.has_token("Connection", "upgrade")) {
        answer =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
            "Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
      } else {
        std::string body = "backend saw " + host;
        answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\nConnection: close\r\n\r\n" + body;
      }
      (void)guest::ws::write_all(c.get(), answer, deadline);
    }
  }
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string last_;
  std::thread thread_;
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
    options_.ingress_socket = root_ + "/ingress.sock";
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

TEST_F(CaddyProxyE2eTest, EveryTenantHostReachesTheIngressSocket) {
  UnixBackend backend(options_.ingress_socket);
  auto p = CaddyProxy::start(options_, launch_);
  ASSERT_THAT(p, IsOk());
  proxy_ = std::move(*p);
  EXPECT_TRUE(eventually_serves("ta", "backend saw ta.lobster.localhost", 10'000)) << get("ta");
  EXPECT_TRUE(eventually_serves("tb", "backend saw tb.lobster.localhost", 10'000)) << get("tb");
  const std::string config = *fs::read_file(launch_.config_file);

  // Forwarded headers are Caddy's, whatever the client claims.
  get("ta", {"-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Forwarded-Host: evil", "-H",
             "Forwarded: for=6.6.6.6"});
  std::string seen = backend.last_head();
  // Caddy writes the TCP peer; a loopback peer (a client on this host) is named 0.0.0.0.
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-For: 0.0.0.0"));
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-Proto: https"));
  EXPECT_THAT(seen, HasSubstr("X-Forwarded-Host: ta.lobster.localhost"));
  EXPECT_THAT(seen, Not(HasSubstr("6.6.6.6")));
  EXPECT_THAT(seen, Not(HasSubstr("evil")));

  // One upstream connection per request (no pooling across tenants).
  int before = backend.connections.load();
  get("ta");
  get("tb");
  EXPECT_EQ(backend.connections.load() - before, 2);

  std::string ws =
      get("tb", {"--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
                 "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_THAT(ws, HasSubstr("101 Switching Protocols"));

  // Kill Caddy: the supervisor restarts it from the same file, which never changes.
  int pid = proxy_->caddy_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(eventually_serves("ta", "backend saw ta", 5'000));
  EXPECT_NE(proxy_->caddy_pid(), pid);
  EXPECT_EQ(*fs::read_file(launch_.config_file), config);
}

TEST_F(CaddyProxyE2eTest, AdminSocketAndConfigArePrivate) {
  auto p = CaddyProxy::start(options_, launch_);
  ASSERT_THAT(p, IsOk());
  proxy_ = std::move(*p);
  struct stat st {};
  ASSERT_EQ(::stat(options_.admin_socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(launch_.config_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(proxy_->healthy());
}

}  // namespace
}  // namespace lobster::proxy
