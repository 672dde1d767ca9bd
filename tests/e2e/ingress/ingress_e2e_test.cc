// The front door end to end (issue 15): a static Caddy in front of lobsterd's ingress process
// and real minimal-profile guests, inside a private network namespace. Tests run in order on
// one state root; the last one evicts everything and scans for residue.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "core/testing/unix_socket.h"
#include "e2e/common/harness.h"
#include "e2e/common/residue.h"
#include "guest/ws/connection.h"
#include "guest/ws/digest.h"
#include "guest/ws/http.h"

namespace lobster {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;
namespace ws = guest::ws;

e2e::StateRoot g_root("/tmp/li" + std::to_string(::getpid()));

e2e::CmdResult cli(const std::vector<std::string>& args, int64_t timeout_ms = 600'000) {
  return g_root.cli(args, timeout_ms);
}
using e2e::eventually;
using e2e::sh;

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

// A WebSocket to <tenant>.lobster.localhost/ws through Caddy's TLS: `openssl s_client` carries
// the TLS, this process speaks WebSocket over a socketpair to its stdin/stdout.
class TlsWebSocket {
 public:
  TlsWebSocket(const std::string& tenant, const std::string& token) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return;
    std::string host = tenant + ".lobster.localhost";
    std::string ca = g_root.ca_file();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(sv[1], 0);
      ::dup2(sv[1], 1);
      ::execlp("openssl", "openssl", "s_client", "-quiet", "-nocommands", "-connect",
               "127.0.0.1:443", "-servername", host.c_str(), "-verify_return_error", "-CAfile",
               ca.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(sv[1]);
    UniqueFd fd(sv[0]);
    std::string req = "GET /ws?token=" + token + " HTTP/1.1\r\nHost: " + host +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    if (!ws::write_all(fd.get(), req, in_ms(10'000)))
      return;
    auto head = ws::read_http_head(fd.get(), in_ms(20'000), 16384);
    if (!head || head->head.find(" 101 ") == std::string::npos) {
      error_ = head ? head->head : head.error().message;
      return;
    }
    conn_.emplace(std::move(fd), ws::Role::kClient, 1 << 20, head->rest);
  }
  ~TlsWebSocket() {
    conn_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool open() const { return conn_.has_value(); }
  const std::string& error() const { return error_; }
  // One echo round trip.
  bool echo(const std::string& text) {
    if (!conn_ || !conn_->send_text(text, in_ms(10'000)))
      return false;
    auto m = conn_->receive(in_ms(20'000));
    return m && m->data == text;
  }

 private:
  pid_t pid_ = -1;
  std::optional<ws::Connection> conn_;
  std::string error_;
};

std::string caddy_config() {
  auto text = fs::read_file(g_root.path() + "/lib/caddy/caddy.json");
  return text ? *text : "";
}

int count_in_log(const std::string& needle) {
  auto text = fs::read_file(g_root.path() + "/log/daemon.log");
  if (!text)
    return -1;
  int n = 0;
  for (size_t at = text->find(needle); at != std::string::npos; at = text->find(needle, at + 1))
    ++n;
  return n;
}

// Raw bytes straight to the ingress's socket (what Caddy would send); the whole answer.
std::string to_ingress(const std::string& bytes) {
  UniqueFd fd = lobster::testing::connect_unix(g_root.path() + "/run/ingress.sock");
  if (!fd)
    return std::string("connect: ") + std::strerror(errno);
  (void)ws::write_all(fd.get(), bytes, in_ms(5000));
  ::shutdown(fd.get(), SHUT_WR);
  return lobster::testing::read_to_eof(fd.get(), 15'000);
}

class IngressE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0)
      return;
    ASSERT_THAT(e2e::start_minimal_suite(g_root), IsOk());
  }
  static void TearDownTestSuite() {
    if (::geteuid() == 0)
      g_root.destroy();
  }
  void SetUp() override { LOBSTER_E2E_REQUIRE_ROOT(); }
};

// Done-when 1: a WebSocket to A stays open and echoing while B is spawned, C evicted, D
// suspended and resumed, and the daemon is killed with kill -9 and restarted; Caddy's config
// file does not change by a byte.
TEST_F(IngressE2e, LiveWebSocketSurvivesTenantChangesAndDaemonKill) {
  for (const char* t : {"ta", "tc", "td"}) ASSERT_EQ(cli({"spawn", t}).exit, 0) << t;
  ASSERT_TRUE(eventually([] { return g_root.healthy("ta"); }, 30'000)) << g_root.curl("ta", "/");
  const std::string config = caddy_config();
  ASSERT_FALSE(config.empty());
  const pid_t caddy = g_root.caddy_pid();
  const pid_t ingress = g_root.ingress_pid();
  ASSERT_GT(ingress, 0);

  TlsWebSocket a("ta", g_root.token_of("ta"));
  ASSERT_TRUE(a.open()) << a.error();
  ASSERT_TRUE(a.echo("before"));
  ASSERT_EQ(cli({"spawn", "tb"}).exit, 0);
  EXPECT_TRUE(a.echo("after spawn"));
  ASSERT_EQ(cli({"evict", "-y", "tc"}).exit, 0);
  EXPECT_TRUE(a.echo("after evict"));
  ASSERT_EQ(cli({"suspend", "td"}).exit, 0);
  EXPECT_TRUE(a.echo("after suspend"));
  ASSERT_EQ(cli({"resume", "td"}).exit, 0);
  EXPECT_TRUE(a.echo("after resume"));
  pid_t daemon = g_root.daemon_pid();
  ASSERT_GT(daemon, 0);
  ASSERT_EQ(::kill(daemon, SIGKILL), 0);
  ASSERT_TRUE(eventually([daemon] { return process::process_exited(daemon); }, 10'000));
  EXPECT_TRUE(a.echo("daemon dead"));
  std::string why;
  ASSERT_GT(g_root.start_daemon({}, &why), 0) << why;
  EXPECT_TRUE(a.echo("daemon restarted"));
  EXPECT_EQ(caddy_config(), config);         // byte-identical
  EXPECT_EQ(g_root.caddy_pid(), caddy);      // never restarted
  EXPECT_EQ(g_root.ingress_pid(), ingress);  // adopted, not replaced
  EXPECT_TRUE(g_root.healthy("tb"));
  EXPECT_TRUE(g_root.healthy("td"));
  // The counters the daemon hands on: A has one open connection and recent client bytes.
  e2e::CmdResult tank = cli({"--json", "tank"});
  ASSERT_EQ(tank.exit, 0) << tank.err;
  bool seen = false;
  for (const auto& row : nlohmann::json::parse(tank.out)) {
    if (row.value("name", "") != "ta")
      continue;
    seen = true;
    EXPECT_EQ(row["ingress"]["openConnections"], 1) << row.dump();
    EXPECT_GT(row["ingress"]["bytesToTenant"].get<int64_t>(), 0);
    EXPECT_GT(row["ingress"]["bytesToClient"].get<int64_t>(), 0);
    EXPECT_GT(row["ingress"]["lastClientActivityMs"].get<int64_t>(), 0);
  }
  EXPECT_TRUE(seen) << tank.out;
}

// Done-when 2: after suspend, the first request through Caddy succeeds (GET, POST /echo with
// 1 MiB, WebSocket upgrade + echo), and 20 concurrent first requests cause exactly one resume.
TEST_F(IngressE2e, FirstRequestWakesASuspendedTenant) {
  ASSERT_EQ(cli({"suspend", "tb"}).exit, 0);
  EXPECT_THAT(g_root.curl("tb", "/health", {"--max-time", "40"}), HasSubstr(R"({"ok":true})"));

  ASSERT_EQ(cli({"suspend", "tb"}).exit, 0);
  std::string body(1 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131) % 256);
  std::string file = g_root.path() + "/body.bin";
  ASSERT_TRUE(fs::write_file_atomic(file, body, 0600));
  ws::Sha256 h;
  h.update(body);
  EXPECT_THAT(
      g_root.curl("tb", "/echo", {"--max-time", "40", "-X", "POST", "--data-binary", "@" + file}),
      HasSubstr(ws::to_hex(h.finish())));

  ASSERT_EQ(cli({"suspend", "tb"}).exit, 0);
  {
    TlsWebSocket w("tb", g_root.token_of("tb"));
    ASSERT_TRUE(w.open()) << w.error();
    EXPECT_TRUE(w.echo("woken"));
  }

  ASSERT_EQ(cli({"suspend", "tb"}).exit, 0);
  const int resumes_before = count_in_log("\"tenant.resumed\"");
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&] {
      if (g_root.curl("tb", "/health", {"--max-time", "40"}).find(R"({"ok":true})") !=
          std::string::npos)
        ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 20);
  EXPECT_EQ(count_in_log("\"tenant.resumed\"") - resumes_before, 1);
}

// Done-when 3 (the parts that need no slow wake): unknown tenant 404, 2,000 malformed heads
// answered with 4xx while the ingress keeps serving.
TEST_F(IngressE2e, UnknownTenantAndMalformedHeads) {
  EXPECT_THAT(g_root.curl("nobody", "/health"), HasSubstr("404"));
  EXPECT_THAT(g_root.curl("nobody", "/health"), HasSubstr("TENANT_NOT_FOUND"));
  const pid_t ingress = g_root.ingress_pid();
  std::mt19937 rng(4711);
  const std::vector<std::string> seeds = {"GET / HTTP/1.1\r\nHost: ta.lobster.localhost\r\n\r\n",
                                          "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n",
                                          "GET / HTTP/1.1\r\nHost: a.b.c\r\nHost: d\r\n\r\n"};
  int answered = 0;
  int unanswered = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string s = seeds[static_cast<size_t>(i) % seeds.size()];
    // Corrupt the head: flip bytes, but keep its end so the ingress parses rather than waits.
    size_t head_len = s.size() - 4;
    for (int k = 0; k < 1 + i % 5; ++k) s[rng() % head_len] = static_cast<char>(rng() % 256);
    if (i % 7 == 0)
      s = std::string(static_cast<size_t>(20000 + i), 'x') + "\r\n\r\n";  // oversized
    std::string answer = to_ingress(s);
    if (answer.starts_with("HTTP/1.1 4"))
      ++answered;
    else if (answer.find("HTTP/1.1 200") != std::string::npos ||
             answer.find("HTTP/1.1 5") != std::string::npos)
      ++answered;  // a corruption that left a valid head for a real tenant (or another host)
    else if (++unanswered == 1)
      ADD_FAILURE() << "no answer to: " << s.substr(0, 80) << "\nanswer: " << answer << "\n"
                    << g_root.diagnostics();
  }
  EXPECT_EQ(answered, 2000);
  EXPECT_EQ(g_root.ingress_pid(), ingress);  // never crashed or restarted
  EXPECT_TRUE(g_root.healthy("ta"));
}

TEST_F(IngressE2e, EvictAllLeavesNoResidue) {
  for (const char* t : {"ta", "tb", "td"}) EXPECT_EQ(cli({"evict", "-y", t}).exit, 0) << t;
  e2e::ResidueScanner scanner(g_root.path());
  auto findings = scanner.scan();
  EXPECT_TRUE(findings.empty()) << e2e::ResidueScanner::describe(findings);
}

}  // namespace
}  // namespace lobster
