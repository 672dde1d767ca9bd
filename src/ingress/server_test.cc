// IngressServer against the real test gateway on 127.0.0.1 (as the "guest"), an in-memory
// tenant directory and a fake waker standing in for the daemon's resume.
#include "ingress/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <thread>

#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"
#include "core/testing/unix_socket.h"
#include "guest/testgw/testgw.h"
#include "guest/ws/connection.h"
#include "guest/ws/digest.h"
#include "guest/ws/http.h"

namespace lobster::ingress {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;
namespace ws = guest::ws;

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

class MapDirectory final : public TenantDirectory {
 public:
  Result<TenantTarget> lookup(const std::string& tenant) override {
    std::lock_guard lock(mu);
    auto it = tenants.find(tenant);
    if (it == tenants.end())
      return make_error(ErrorCode::kTenantNotFound, "no tenant {}", tenant);
    return it->second;
  }
  void set(const std::string& tenant, store::TenantStatus s) {
    std::lock_guard lock(mu);
    tenants[tenant] = {s, "127.0.0.1"};
  }
  std::mutex mu;
  std::map<std::string, TenantTarget> tenants;
};

// Resumes after `delay_ms`; while `daemon_down` it answers like a stopped daemon.
class FakeWaker final : public Waker {
 public:
  explicit FakeWaker(MapDirectory& d) : dir(d) {}
  Status resume(const std::string& tenant, int) override {
    ++calls;
    if (daemon_down)
      return make_error(ErrorCode::kDaemonNotRunning, "daemon down");
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    dir.set(tenant, store::TenantStatus::kActive);
    return ok();
  }
  MapDirectory& dir;
  std::atomic<int> calls{0};
  std::atomic<bool> daemon_down{false};
  int delay_ms = 200;
};

class IngressServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gw = guest::testgw::TestGateway::create(
        {.bind_address = "127.0.0.1", .port = 0, .token = "tok"});
    ASSERT_THAT(gw, IsOk());
    gw_ = std::move(*gw);
    gw_thread_ = std::thread([this] { gw_->serve(); });
    dir_.set("alice", store::TenantStatus::kActive);
  }
  void start(IngressOptions o = {}) {
    o.listen_socket = tmp_.path() + "/in.sock";
    o.control_socket = tmp_.path() + "/ctl.sock";
    o.gateway_port = gw_->port();
    if (o.head_timeout_ms == IngressOptions{}.head_timeout_ms)
      o.head_timeout_ms = 300;
    auto s = IngressServer::create(o, dir_, waker_, clock_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
    serve_thread_ = std::thread([this] { server_->serve(); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      serve_thread_.join();
    }
    gw_->stop();
    gw_thread_.join();
  }

  // Sends `request` (then half-closes when asked) and reads the whole answer.
  std::string exchange(const std::string& request, bool half_close = false) {
    UniqueFd fd = lobster::testing::connect_unix(tmp_.path() + "/in.sock");
    EXPECT_TRUE(fd);
    EXPECT_THAT(ws::write_all(fd.get(), request, in_ms(5000)), IsOk());
    if (half_close)
      ::shutdown(fd.get(), SHUT_WR);
    return lobster::testing::read_to_eof(fd.get(), 10'000);
  }
  static std::string get(const std::string& host, const std::string& path = "/health") {
    return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  }

  lobster::testing::TempDir tmp_;
  SystemClock clock_;
  MapDirectory dir_;
  FakeWaker waker_{dir_};
  std::unique_ptr<guest::testgw::TestGateway> gw_;
  std::thread gw_thread_;
  std::unique_ptr<IngressServer> server_;
  std::thread serve_thread_;
};

TEST_F(IngressServerTest, RelaysToActiveTenantAndCounts) {
  start();
  std::string r = exchange(get("alice.lobster.localhost"));
  EXPECT_THAT(r, HasSubstr("200 OK"));
  EXPECT_THAT(r, HasSubstr(R"({"ok":true})"));
  std::string body(1 << 20, 'b');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
  ws::Sha256 h;
  h.update(body);
  std::string echo = exchange(
      "POST /echo HTTP/1.1\r\nHost: alice.lobster.localhost\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_THAT(echo, HasSubstr(ws::to_hex(h.finish())));
  ActivityReport a = server_->activity();
  for (int i = 0; i < 200 && a.find("alice")->open_connections != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // relay threads finishing
    a = server_->activity();
  }
  ASSERT_NE(a.find("alice"), nullptr);
  EXPECT_EQ(a.find("alice")->connections_total, 2);
  EXPECT_EQ(a.find("alice")->open_connections, 0);
  EXPECT_GT(a.find("alice")->bytes_to_tenant, int64_t{1 << 20});
  EXPECT_GT(a.find("alice")->bytes_to_client, 0);
  EXPECT_GT(a.find("alice")->last_client_activity_ms, 0);
  // The same report over the control socket.
  auto remote = query_activity(tmp_.path() + "/ctl.sock");
  ASSERT_THAT(remote, IsOk());
  EXPECT_EQ(remote->tenants, a.tenants);
  EXPECT_THAT(ping(tmp_.path() + "/ctl.sock"), IsOk());
}

TEST_F(IngressServerTest, AskApprovesOnlyExistingTenantsOnLoopback) {
  start({.ask_port = 17079});
  auto ask = [](const std::string& query) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(17079);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Kernel ABI: sockaddr_in is the sockaddr for AF_INET.
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
      return std::string("connect failed");
    (void)ws::write_all(fd.get(), "GET " + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        in_ms(5000));
    auto head = ws::read_http_head(fd.get(), in_ms(5000), 16384);
    return head ? head->head : std::string("no answer");
  };
  EXPECT_THAT(ask("/v1/ask?domain=alice.lobster.localhost"), HasSubstr("200 OK"));
  EXPECT_THAT(ask("/v1/ask?domain=bob.lobster.localhost"), HasSubstr("404"));
  EXPECT_THAT(ask("/v1/ask?domain=alice.evil.com"), HasSubstr("404"));
  EXPECT_THAT(ask("/v1/ask"), HasSubstr("404"));
  EXPECT_THAT(ask("/v1/activity"), HasSubstr("404"));  // counters never leave the 0600 socket
}

TEST_F(IngressServerTest, AnswersErrorsWithJson) {
  start();
  EXPECT_THAT(exchange(get("bob.lobster.localhost")), HasSubstr("404 Not Found"));
  EXPECT_THAT(exchange(get("bob.lobster.localhost")), HasSubstr(R"("code":"TENANT_NOT_FOUND")"));
  EXPECT_THAT(exchange(get("alice.example.com")), HasSubstr("404 Not Found"));
  EXPECT_THAT(exchange("GET / HTTP/1.1\r\n\r\n"), HasSubstr("400 Bad Request"));
  EXPECT_THAT(exchange(get("a_b.lobster.localhost")), HasSubstr("400 Bad Request"));
  EXPECT_THAT(exchange("garbage\r\n\r\n"), HasSubstr("400 Bad Request"));
  EXPECT_THAT(exchange(std::string(40000, 'A')), HasSubstr("400 Bad Request"));
  EXPECT_THAT(exchange("GET / HTTP/1.1\r\nHost: alice.lob"), HasSubstr("408 Request Timeout"));
  EXPECT_THAT(exchange("GET / HTTP/1.1\r\nHost: alice.lob", true), HasSubstr("400 Bad Request"));
  EXPECT_THAT(exchange(get("alice.lobster.localhost")), HasSubstr("200 OK"));  // still serving
}

TEST_F(IngressServerTest, ConcurrentFirstRequestsWakeOnce) {
  dir_.set("alice", store::TenantStatus::kSuspended);
  start();
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&] {
      if (exchange(get("alice.lobster.localhost")).find("200 OK") != std::string::npos)
        ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 20);
  EXPECT_EQ(waker_.calls.load(), 1);
  EXPECT_EQ(server_->activity().find("alice")->wakes, 1);
}

TEST_F(IngressServerTest, WebSocketThroughAWake) {
  dir_.set("alice", store::TenantStatus::kSuspended);
  start();
  UniqueFd fd = lobster::testing::connect_unix(tmp_.path() + "/in.sock");
  std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  ASSERT_THAT(ws::write_all(fd.get(),
                            "GET /ws?token=tok HTTP/1.1\r\nHost: alice.lobster.localhost\r\n"
                            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                                key + "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                            in_ms(5000)),
              IsOk());
  auto head = ws::read_http_head(fd.get(), in_ms(10'000), 16384);
  ASSERT_THAT(head, IsOk());
  EXPECT_THAT(head->head, HasSubstr("101"));
  ws::Connection conn(std::move(fd), ws::Role::kClient, 1 << 20, head->rest);
  ASSERT_THAT(conn.send_text("hello", in_ms(5000)), IsOk());
  auto m = conn.receive(in_ms(5000));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->data, "hello");
  EXPECT_EQ(server_->activity().find("alice")->open_connections, 1);
}

TEST_F(IngressServerTest, WakeDeadlineAndPendingCapGive503) {
  dir_.set("alice", store::TenantStatus::kSuspended);
  waker_.daemon_down = true;
  start({.wake_timeout_ms = 600, .max_waiting_per_tenant = 1});
  std::string first;
  std::thread waiting([&] { first = exchange(get("alice.lobster.localhost")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::string capped = exchange(get("alice.lobster.localhost"));
  waiting.join();
  EXPECT_THAT(capped, HasSubstr("503 Service Unavailable"));
  EXPECT_THAT(capped, HasSubstr("Retry-After: 5"));
  EXPECT_THAT(capped, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(first, HasSubstr("503 Service Unavailable"));
  EXPECT_THAT(first, HasSubstr("Retry-After: 5"));
  EXPECT_THAT(first, HasSubstr("did not wake within 600 ms"));
  EXPECT_GE(waker_.calls.load(), 2);  // it kept asking while the daemon was down
  // The daemon is back: the next request wakes the tenant.
  waker_.daemon_down = false;
  EXPECT_THAT(exchange(get("alice.lobster.localhost")), HasSubstr("200 OK"));
}

}  // namespace
}  // namespace lobster::ingress
