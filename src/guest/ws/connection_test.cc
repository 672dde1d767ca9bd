#include "guest/ws/connection.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <random>
#include <thread>

#include "core/testing/matchers.h"

namespace lobster::guest::ws {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

Deadline in_ms(int ms) { return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms); }

// A one-connection loopback server running `handler` on the accepted socket in a thread.
class OneShotServer {
 public:
  explicit OneShotServer(std::function<void(UniqueFd)> handler) {
    listen_fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Kernel ABI: sockaddr_in is the IPv4 member of the sockaddr union.
    EXPECT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_.get(), 4), 0);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, handler = std::move(handler)] {
      UniqueFd c(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c)
        handler(std::move(c));
    });
  }
  ~OneShotServer() { thread_.join(); }
  uint16_t port() const { return port_; }

 private:
  UniqueFd listen_fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Server side of a test: handshake then hand the Connection to `body`.
std::function<void(UniqueFd)> ws_server(std::function<void(Connection&)> body) {
  return [body = std::move(body)](UniqueFd fd) {
    ASSERT_THAT(set_nonblocking(fd.get()), IsOk());
    auto head = read_http_head(fd.get(), in_ms(5000), 16384);
    ASSERT_THAT(head, IsOk());
    auto req = parse_http_request(head->head);
    ASSERT_THAT(req, IsOk());
    auto resp = server_handshake_response(*req);
    ASSERT_THAT(resp, IsOk());
    ASSERT_THAT(write_all(fd.get(), *resp, in_ms(5000)), IsOk());
    Connection conn(std::move(fd), Role::kServer, 1 << 20, head->rest);
    body(conn);
  };
}

TEST(AcceptKeyTest, Rfc6455Example) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ConnectionTest, EchoRoundTripAndCleanClose) {
  OneShotServer server(ws_server([](Connection& c) {
    for (;;) {
      auto m = c.receive(in_ms(5000));
      ASSERT_THAT(m, IsOk());
      if (m->opcode == Opcode::kClose)
        return;
      ASSERT_THAT(c.send_text(m->data, in_ms(5000)), IsOk());
    }
  }));
  auto c = connect_client({.port = server.port(), .path = "/ws"}, in_ms(5000));
  ASSERT_THAT(c, IsOk());
  for (std::string text : {std::string("hi"), std::string(200000, 'z'), std::string()}) {
    ASSERT_THAT(c->send_text(text, in_ms(5000)), IsOk());
    auto m = c->receive(in_ms(5000));
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->opcode, Opcode::kText);
    EXPECT_EQ(m->data, text);
  }
  ASSERT_THAT(c->send_close(1000, "bye", in_ms(5000)), IsOk());
  auto closed = c->receive(in_ms(5000));
  ASSERT_THAT(closed, IsOk());
  EXPECT_EQ(closed->opcode, Opcode::kClose);
  EXPECT_EQ(closed->close_code, 1000);
}

TEST(ConnectionTest, ReassemblesFragmentsAndAnswersPingsInBetween) {
  OneShotServer server(ws_server([](Connection& c) {
    std::string wire = encode_frame(Opcode::kText, "frag", false, std::nullopt) +
                       encode_frame(Opcode::kPing, "are you there", true, std::nullopt) +
                       encode_frame(Opcode::kContinuation, "men", false, std::nullopt) +
                       encode_frame(Opcode::kContinuation, "ted", true, std::nullopt);
    ASSERT_THAT(write_all(c.fd(), wire, in_ms(5000)), IsOk());
    // The client must answer the ping with a pong carrying the same payload.
    FrameDecoder dec(Role::kServer, 1024);
    std::array<char, 256> buf{};
    for (;;) {
      ssize_t n = ::recv(c.fd(), buf.data(), buf.size(), 0);
      if (n <= 0)
        continue;
      dec.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
      auto f = dec.next();
      ASSERT_THAT(f, IsOk());
      if (f->has_value()) {
        EXPECT_EQ((*f)->opcode, Opcode::kPong);
        EXPECT_EQ((*f)->payload, "are you there");
        return;
      }
    }
  }));
  auto c = connect_client({.port = server.port()}, in_ms(5000));
  ASSERT_THAT(c, IsOk());
  auto m = c->receive(in_ms(5000));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->data, "fragmented");
}

TEST(ConnectionTest, MessageOverCapIsRejected) {
  OneShotServer server(ws_server([](Connection& c) {
    std::string part(600, 'a');
    std::string wire = encode_frame(Opcode::kText, part, false, std::nullopt) +
                       encode_frame(Opcode::kContinuation, part, true, std::nullopt);
    (void)write_all(c.fd(), wire, in_ms(5000));
    (void)c.receive(in_ms(2000));
  }));
  auto c = connect_client({.port = server.port(), .max_message = 1000}, in_ms(5000));
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(c->receive(in_ms(5000)), HasError(ErrorCode::kProtocolError));
  EXPECT_TRUE(c->close_sent());
}

TEST(ConnectionTest, InvalidUtf8TextIsRejectedWith1007) {
  OneShotServer server(ws_server([](Connection& c) {
    (void)write_all(c.fd(), encode_frame(Opcode::kText, "bad \xff", true, std::nullopt),
                    in_ms(5000));
    (void)c.receive(in_ms(2000));
  }));
  auto c = connect_client({.port = server.port()}, in_ms(5000));
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(c->receive(in_ms(5000)), HasError(ErrorCode::kProtocolError));
  EXPECT_TRUE(c->close_sent());
}

TEST(ConnectionTest, RefusedUpgradeIsProtocolError) {
  OneShotServer server([](UniqueFd fd) {
    (void)read_http_head(fd.get(), in_ms(5000), 16384);
    (void)write_all(fd.get(), "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
                    in_ms(5000));
  });
  auto c = connect_client({.port = server.port()}, in_ms(5000));
  ASSERT_THAT(c, HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(c.error().message, ::testing::HasSubstr("401"));
}

TEST(ConnectionTest, WrongAcceptKeyIsProtocolError) {
  OneShotServer server([](UniqueFd fd) {
    (void)read_http_head(fd.get(), in_ms(5000), 16384);
    (void)write_all(fd.get(),
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n",
                    in_ms(5000));
  });
  EXPECT_THAT(connect_client({.port = server.port()}, in_ms(5000)),
              HasError(ErrorCode::kProtocolError));
}

TEST(ConnectionTest, SilentServerTimesOut) {
  OneShotServer server([](UniqueFd fd) {
    // Read the request, never answer; return when the client gives up.
    (void)read_http_head(fd.get(), in_ms(5000), 16384);
    std::array<char, 16> b{};
    (void)::recv(fd.get(), b.data(), b.size(), 0);
  });
  EXPECT_THAT(connect_client({.port = server.port()}, in_ms(200)),
              HasError(ErrorCode::kExecTimeout));
}

TEST(ConnectionTest, ConnectionRefusedIsGatewayUnavailable) {
  uint16_t port = 0;
  {
    // Bind and close a socket so the port is very likely free and refusing.
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  EXPECT_THAT(connect_client({.port = port}, in_ms(2000)),
              HasError(ErrorCode::kGatewayUnavailable));
}

TEST(ServerHandshakeTest, ValidatesUpgradeRequests) {
  auto parse = [](std::string head) { return parse_http_request(head).value(); };
  const std::string good =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  auto ok_resp = server_handshake_response(parse(good));
  ASSERT_THAT(ok_resp, IsOk());
  EXPECT_THAT(*ok_resp, ::testing::HasSubstr("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  for (std::string bad : {
           "POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
           "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
           "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n",
           "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
       }) {
    EXPECT_THAT(server_handshake_response(parse(bad)), HasError(ErrorCode::kProtocolError));
  }
}

TEST(HttpTest, ParsesRequestTargetAndQuery) {
  auto req = parse_http_request("GET /ws?a=1&token=s%20e+cret HTTP/1.1\r\nX-A:  v \r\n\r\n");
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(req->path(), "/ws");
  EXPECT_EQ(req->query_param("token"), "s e cret");
  EXPECT_EQ(req->query_param("a"), "1");
  EXPECT_EQ(req->query_param("b"), std::nullopt);
  EXPECT_EQ(req->headers.get("x-a"), "v");
  EXPECT_THAT(parse_http_request("GARBAGE\r\n\r\n"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_http_request("GET / HTTP/1.1\r\nno colon\r\n\r\n"),
              HasError(ErrorCode::kProtocolError));
}

// Random and mutated heads must never crash the parsers (run under ASan in CI).
TEST(HttpTest, ParserFuzz) {
  std::mt19937 rng(99);
  const std::string seed =
      "GET /ws?token=a%41b HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string alphabet = "GET /?=&%:\r\n HTTP/1.1 0123456789abcdefABCDEF+\t";
  for (int i = 0; i < 20000; ++i) {
    std::string in = seed;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (in.size() + 1);
      switch (rng() % 3) {
        case 0:
          in.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (pos < in.size())
            in.erase(pos, 1);
          break;
        default:
          if (pos < in.size())
            in[pos] = static_cast<char>(rng());
          break;
      }
    }
    auto req = parse_http_request(in);
    if (req) {
      (void)req->path();
      (void)req->query_param("token");
      (void)req->headers.has_token("Connection", "upgrade");
      (void)server_handshake_response(*req);
    }
    (void)parse_http_response(in);
  }
}

}  // namespace
}  // namespace lobster::guest::ws
