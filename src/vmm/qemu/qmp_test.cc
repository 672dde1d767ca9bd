#include "vmm/qemu/qmp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "core/testing/matchers.h"

namespace lobster::vmm::qemu {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using nlohmann::json;

TEST(QmpParser, SplitsChunkedLinesAndIgnoresCarriageReturns) {
  QmpParser p;
  ASSERT_THAT(p.feed("{\"QMP\": {\"version\": {}}}\r\n{\"ev"), IsOk());
  auto first = p.next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->contains("QMP"));
  EXPECT_FALSE(p.next());
  ASSERT_THAT(p.feed("ent\": \"STOP\"}\r\n\r\n{\"return\": {}, \"id\": 3}\n"), IsOk());
  EXPECT_EQ(p.next()->value("event", ""), "STOP");
  EXPECT_EQ(p.next()->value("id", 0), 3);
  EXPECT_FALSE(p.next());
}

TEST(QmpParser, RejectsMalformedLines) {
  QmpParser p;
  EXPECT_THAT(p.feed("not json\n"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(p.feed("[1,2]\n"), HasError(ErrorCode::kProtocolError));
  ASSERT_THAT(p.feed("{\"return\": {}}\n"), IsOk());  // recovers on the next line
  EXPECT_TRUE(p.next());
}

// A scripted QMP server on the other end of a socketpair.
class FakeServer {
 public:
  explicit FakeServer(int fd) : fd_(fd) {}
  void send(const std::string& text) {
    ASSERT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // Reads one request line; returns it parsed, storing a passed fd if any.
  json read_request(int* passed_fd = nullptr) {
    std::string line;
    for (;;) {
      auto nl = pending_.find('\n');
      if (nl != std::string::npos) {
        line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return json::parse(line);
      }
      char buf[4096];
      iovec iov{buf, sizeof(buf)};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = ::recvmsg(fd_, &msg, 0);
      if (n <= 0)
        return json();
      for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_type == SCM_RIGHTS && passed_fd)
          std::memcpy(passed_fd, CMSG_DATA(cm), 4);
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string pending_;
};

struct Pair {
  UniqueFd client;
  UniqueFd server;
};
Pair make_pair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

void handshake(FakeServer& s) {
  s.send("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n");
  json req = s.read_request();
  EXPECT_EQ(req["execute"], "qmp_capabilities");
  s.send("{\"return\": {}, \"id\": " + req["id"].dump() + "}\r\n");
}

TEST(QmpClient, MatchesRepliesByIdAndQueuesInterleavedEvents) {
  auto [client_fd, server_fd] = make_pair();
  FakeServer server(server_fd.get());
  std::thread t([&] {
    handshake(server);
    json req = server.read_request();
    EXPECT_EQ(req["execute"], "query-status");
    // An event and a stale reply arrive before the answer, the answer arrives in pieces.
    server.send("{\"timestamp\": {}, \"event\": \"STOP\"}\r\n{\"return\": {}, \"id\": 999}\r\n");
    server.send("{\"return\": {\"status\": \"pau");
    server.send("sed\", \"running\": false}, \"id\": " + req["id"].dump() +
                "}\r\n{\"event\": \"RESUME\"}\r\n");
    json req2 = server.read_request();
    EXPECT_EQ(req2["execute"], "migrate");
    EXPECT_EQ(req2["arguments"]["uri"], "fd:snap");
    server.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no fd\"}, \"id\": " +
                req2["id"].dump() + "}\r\n");
    server.send("{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\r\n");
    server.send("{\"event\": \"MIGRATION\", \"data\": {\"status\": \"completed\"}}\r\n");
  });
  auto c = QmpClient::over(std::move(client_fd), 5000);
  ASSERT_THAT(c, IsOk());
  auto st = c->execute("query-status");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ((*st)["status"], "paused");
  auto err = c->execute("migrate", {{"uri", "fd:snap"}});
  ASSERT_THAT(err, HasError(ErrorCode::kVmmFailed));
  EXPECT_NE(err.error().message.find("GenericError: no fd"), std::string::npos);
  // STOP was queued during the first command and is found without reading.
  auto stop = c->wait_event({"STOP"}, 1000);
  ASSERT_THAT(stop, IsOk());
  auto done = c->wait_event({"MIGRATION"}, 5000,
                            [](const json& e) { return e["data"]["status"] == "completed"; });
  ASSERT_THAT(done, IsOk());
  t.join();
  // RESUME and the "setup" MIGRATION event stay queued, in order.
  auto rest = c->take_events();
  ASSERT_EQ(rest.size(), 2U);
  EXPECT_EQ(rest[0]["event"], "RESUME");
  EXPECT_EQ(rest[1]["data"]["status"], "setup");
  EXPECT_THAT(c->wait_event({"SHUTDOWN"}, 50), HasError(ErrorCode::kExecTimeout));
}

TEST(QmpClient, PassesFileDescriptorsWithSCMRights) {
  auto [client_fd, server_fd] = make_pair();
  FakeServer server(server_fd.get());
  int received = -1;
  std::thread t([&] {
    handshake(server);
    json req = server.read_request(&received);
    EXPECT_EQ(req["execute"], "getfd");
    server.send("{\"return\": {}, \"id\": " + req["id"].dump() + "}\n");
  });
  auto c = QmpClient::over(std::move(client_fd), 5000);
  ASSERT_THAT(c, IsOk());
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_THAT(c->execute("getfd", {{"fdname", "x"}}, 5000, devnull.get()), IsOk());
  t.join();
  ASSERT_GE(received, 0);
  EXPECT_NE(received, devnull.get());
  ::close(received);
}

TEST(QmpClient, ClosedConnectionAndBadGreetingAreErrors) {
  {
    auto [client_fd, server_fd] = make_pair();
    server_fd.reset();
    EXPECT_THAT(QmpClient::over(std::move(client_fd), 1000), HasError(ErrorCode::kVmmFailed));
  }
  {
    auto [client_fd, server_fd] = make_pair();
    FakeServer server(server_fd.get());
    server.send("{\"return\": {}}\n");
    EXPECT_THAT(QmpClient::over(std::move(client_fd), 1000), HasError(ErrorCode::kProtocolError));
  }
  {
    auto [client_fd, server_fd] = make_pair();
    EXPECT_THAT(QmpClient::over(std::move(client_fd), 50), HasError(ErrorCode::kExecTimeout));
  }
}

}  // namespace
}  // namespace lobster::vmm::qemu
