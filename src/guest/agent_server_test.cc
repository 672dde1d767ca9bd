#include "guest/agent_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "guest/testing/fake_backend.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions opts = {}) {
    auto l = EventLoop::create();
    ASSERT_TRUE(l.has_value());
    loop = std::move(*l);
    server = std::make_unique<AgentServer>(*loop, dispatcher, opts);
    auto p = server->listen("127.0.0.1", 0, Port::kAgent);
    ASSERT_TRUE(p.has_value()) << p.error().to_string();
    port = *p;
    auto h = server->listen("127.0.0.1", 0, Port::kHealth);
    ASSERT_TRUE(h.has_value());
    health_port = *h;
    thread = std::thread([this] { ASSERT_TRUE(loop->run().has_value()); });
  }
  void TearDown() override {
    if (thread.joinable()) {
      loop->post([this] { loop->stop(); });
      thread.join();
    }
    server.reset();
  }

  int connect_to(uint16_t p) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    return fd;
  }
  static void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return;  // the server may close early (too large); the reply is still readable
      }
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Everything until EOF.
  static std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }
  std::string ping_line(const std::string& token = "tok") {
    return json{{"type", "health-ping"}, {"token", token}}.dump() + "\n";
  }

  testing::FakeBackend backend;
  Dispatcher dispatcher{"tok", backend};
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<AgentServer> server;
  uint16_t port = 0;
  uint16_t health_port = 0;
  std::thread thread;
};

const std::string kPong = "{\"ok\":true,\"reply\":\"PONG\"}\n";

TEST_F(ServerTest, RequestSplitIntoOneByteWrites) {
  start();
  int fd = connect_to(health_port);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
  for (char c : ping_line()) {
    send_all(fd, std::string_view(&c, 1));
  }
  EXPECT_EQ(read_all(fd), kPong);
}

TEST_F(ServerTest, SecondRequestOnOneConnectionIsIgnored) {
  start();
  int fd = connect_to(port);
  send_all(fd, ping_line() + json{{"type", "shutdown"}, {"token", "tok"}}.dump() + "\n");
  EXPECT_EQ(read_all(fd), kPong);
  EXPECT_FALSE(backend.shutdown_requested);
}

TEST_F(ServerTest, MoreThanOneMiBIsRefused) {
  start();
  int fd = connect_to(port);
  std::string big = "{\"type\":\"health-ping\",\"token\":\"tok\",\"pad\":\"" +
                    std::string(kMaxRequestBytes + 10, 'a') + "\"}\n";
  std::thread writer([&] {
    send_all(fd, big);
    ::shutdown(fd, SHUT_WR);
  });
  std::string reply = read_all(fd);
  writer.join();
  EXPECT_EQ(reply, "{\"error\":\"message too large\"}\n");
}

TEST_F(ServerTest, InvalidJson) {
  start();
  int fd = connect_to(port);
  send_all(fd, "{\"type\":\n");
  EXPECT_EQ(read_all(fd), "{\"error\":\"invalid json\"}\n");
}

TEST_F(ServerTest, HalfCloseWithoutNewline) {
  start();
  int fd = connect_to(port);
  std::string line = ping_line();
  line.pop_back();
  send_all(fd, line);
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(read_all(fd), "{\"error\":\"incomplete request\"}\n");
}

TEST_F(ServerTest, WrongAndMissingToken) {
  start();
  int fd = connect_to(health_port);
  send_all(fd, ping_line("wrong"));
  EXPECT_EQ(read_all(fd), "{\"error\":\"unauthorized\"}\n");
  fd = connect_to(port);
  send_all(fd, "{\"type\":\"health-ping\"}\n");
  EXPECT_EQ(read_all(fd), "{\"error\":\"unauthorized\"}\n");
}

TEST_F(ServerTest, SilentPeerIsClosedAfterReadTimeout) {
  start({.read_timeout_ms = 50});
  int fd = connect_to(port);
  send_all(fd, "{\"type\":");   // never completes
  EXPECT_EQ(read_all(fd), "");  // closed without a reply
}

TEST_F(ServerTest, TwoHundredConcurrentConnections) {
  start();
  constexpr int kConns = 200;
  std::vector<int> fds;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(connect_to(i % 2 == 0 ? port : health_port));
  }
  // Every connection first sends half its request, so all 200 are open and pending at once.
  std::vector<std::string> lines;
  for (int i = 0; i < kConns; ++i) {
    lines.push_back(json{{"type", "health-ping"}, {"token", "tok"}, {"n", i}}.dump() + "\n");
    send_all(fds[static_cast<size_t>(i)], lines.back().substr(0, lines.back().size() / 2));
  }
  for (int i = kConns - 1; i >= 0; --i) {
    const std::string& l = lines[static_cast<size_t>(i)];
    send_all(fds[static_cast<size_t>(i)], l.substr(l.size() / 2));
  }
  for (int fd : fds) {
    EXPECT_EQ(read_all(fd), kPong);
  }
}

TEST_F(ServerTest, DeferredReplyFromAnotherThread) {
  backend.defer = true;
  start();
  int fd = connect_to(port);
  send_all(fd, json{{"type", "get-heartbeat-schedule"}, {"token", "tok"}}.dump() + "\n");
  // Complete from a foreign thread through post(), as the gateway RPC worker does.
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 100), 0);  // nothing yet
  loop->post([this] { backend.complete_deferred(); });
  json r = json::parse(read_all(fd));
  EXPECT_EQ(r["enabled"], true);
}

}  // namespace
}  // namespace lobster::guest
