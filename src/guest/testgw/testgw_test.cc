#include "guest/testgw/testgw.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "core/testing/matchers.h"
#include "guest/ws/connection.h"
#include "guest/ws/digest.h"

namespace lobster::guest::testgw {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

class TestGatewayTest : public ::testing::Test {
 protected:
  void start(Options o) {
    o.bind_address = "127.0.0.1";
    o.port = 0;
    auto gw = TestGateway::create(std::move(o));
    ASSERT_THAT(gw, IsOk());
    gw_ = std::move(*gw);
    server_ = std::thread([this] { gw_->serve(); });
  }
  void SetUp() override { start({.token = "s3cret-token"}); }
  void TearDown() override {
    gw_->stop();
    server_.join();
    gw_.reset();
  }

  // One plain HTTP exchange; returns the status and body.
  std::pair<int, std::string> http(const std::string& request) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(gw_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Kernel ABI: sockaddr_in is the IPv4 member of the sockaddr union.
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_THAT(ws::set_nonblocking(fd.get()), IsOk());
    EXPECT_THAT(ws::write_all(fd.get(), request, in_ms(5000)), IsOk());
    auto head = ws::read_http_head(fd.get(), in_ms(5000), 16384);
    EXPECT_THAT(head, IsOk());
    if (!head)
      return {0, ""};
    auto resp = ws::parse_http_response(head->head);
    EXPECT_THAT(resp, IsOk());
    std::string body = head->rest;
    std::array<char, 4096> buf{};
    for (;;) {  // Connection: close -> read to EOF
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0)
        break;
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
      if (n <= 0)
        break;
      body.append(buf.data(), static_cast<size_t>(n));
    }
    return {resp ? resp->status : 0, body};
  }

  Result<ws::Connection> ws_connect(std::string path,
                                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    return ws::connect_client(
        {.port = gw_->port(), .path = std::move(path), .headers = std::move(headers)}, in_ms(5000));
  }

  std::unique_ptr<TestGateway> gw_;
  std::thread server_;
};

TEST(TokenTest, ConstantTimeCompareSemantics) {
  EXPECT_TRUE(token_matches("abc", "abc"));
  EXPECT_FALSE(token_matches("abc", "abd"));
  EXPECT_FALSE(token_matches("abc", "ab"));
  EXPECT_FALSE(token_matches("abc", "abcabc"));
  EXPECT_FALSE(token_matches("abc", ""));
  EXPECT_FALSE(token_matches("", ""));  // fail closed without a configured token
}

TEST_F(TestGatewayTest, HealthIsOkJson) {
  auto [status, body] = http("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, R"({"ok":true})");
  EXPECT_EQ(http("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").first, 404);
  EXPECT_EQ(http("NONSENSE\r\n\r\n").first, 400);
}

TEST_F(TestGatewayTest, EchoAnswersTheBodysSha256) {
  std::string body(300000, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  ws::Sha256 want;
  want.update(body);
  auto [status, answer] =
      http("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer, R"({"sha256":")" + ws::to_hex(want.finish()) + R"(","bytes":300000})");
  EXPECT_EQ(http("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n").first, 411);
  EXPECT_EQ(http("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n").first,
            413);
}

TEST_F(TestGatewayTest, WebSocketNeedsTheToken) {
  for (auto [path, headers] :
       std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>{
           {"/ws", {}},
           {"/ws?token=wrong", {}},
           {"/ws?token=s3cret-tokenX", {}},
           {"/ws", {{"Authorization", "Bearer s3cret-toke"}}},
           {"/ws", {{"Authorization", "Basic s3cret-token"}}},
       }) {
    auto c = ws_connect(path, headers);
    ASSERT_THAT(c, HasError(ErrorCode::kProtocolError)) << path;
    EXPECT_THAT(c.error().message, ::testing::HasSubstr("401")) << path;
  }
  // The right token without an upgrade is a plain 400, not an echo.
  EXPECT_EQ(http("GET /ws?token=s3cret-token HTTP/1.1\r\nHost: x\r\n\r\n").first, 400);
}

TEST_F(TestGatewayTest, EchoesWithBearerOrQueryToken) {
  for (int variant = 0; variant < 2; ++variant) {
    auto c = variant == 0 ? ws_connect("/ws", {{"Authorization", "Bearer s3cret-token"}})
                          : ws_connect("/ws?x=1&token=s3cret-token");
    ASSERT_THAT(c, IsOk());
    ASSERT_THAT(c->send_text("hello", in_ms(5000)), IsOk());
    auto m = c->receive(in_ms(5000));
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->opcode, ws::Opcode::kText);
    EXPECT_EQ(m->data, "hello");
    ASSERT_THAT(c->send_binary(std::string("\0\1\2", 3), in_ms(5000)), IsOk());
    m = c->receive(in_ms(5000));
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->opcode, ws::Opcode::kBinary);
    EXPECT_EQ(m->data, std::string("\0\1\2", 3));
    ASSERT_THAT(c->send_close(1000, "", in_ms(5000)), IsOk());
    m = c->receive(in_ms(5000));
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->opcode, ws::Opcode::kClose);
  }
}

TEST_F(TestGatewayTest, ManyConcurrentEchoClients) {
  constexpr int kClients = 40;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([this, i, &good] {
      auto c = ws_connect("/ws?token=s3cret-token");
      if (!c)
        return;
      for (int k = 0; k < 20; ++k) {
        const std::string text = "client " + std::to_string(i) + " msg " + std::to_string(k);
        if (!c->send_text(text, in_ms(10'000)))
          return;
        auto m = c->receive(in_ms(10'000));
        if (!m || m->data != text)
          return;
      }
      ++good;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients);
}

TEST_F(TestGatewayTest, ConnectionLimitAnswers503) {
  gw_->stop();
  server_.join();
  gw_.reset();
  start({.token = "s3cret-token", .max_connections = 2});
  auto a = ws_connect("/ws?token=s3cret-token");
  auto b = ws_connect("/ws?token=s3cret-token");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  auto c = ws_connect("/ws?token=s3cret-token");
  ASSERT_THAT(c, HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(c.error().message, ::testing::HasSubstr("503"));
}

TEST_F(TestGatewayTest, StopEndsIdleConnections) {
  auto c = ws_connect("/ws?token=s3cret-token");
  ASSERT_THAT(c, IsOk());
  gw_->stop();
  server_.join();  // must not wait for the 5-minute idle timeout
  EXPECT_EQ(gw_->active_connections(), 0);
  server_ = std::thread([] {});
}

TEST(TestGatewayNoTokenTest, FailsClosed) {
  auto gw = TestGateway::create({.bind_address = "127.0.0.1", .port = 0, .token = ""});
  ASSERT_THAT(gw, IsOk());
  std::thread t([&] { (*gw)->serve(); });
  auto c = ws::connect_client({.port = (*gw)->port(), .path = "/ws?token="}, in_ms(5000));
  EXPECT_THAT(c, HasError(ErrorCode::kProtocolError));
  (*gw)->stop();
  t.join();
}

}  // namespace
}  // namespace lobster::guest::testgw
