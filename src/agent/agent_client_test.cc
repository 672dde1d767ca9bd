#include "agent/agent_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "core/testing/matchers.h"
#include "guest/agent_server.h"
#include "guest/testing/fake_backend.h"

namespace lobster::agent {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using nlohmann::json;

// The real lobster-init protocol server (with a fake backend) on loopback.
class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop = std::move(*guest::EventLoop::create());
    server = std::make_unique<guest::AgentServer>(*loop, dispatcher);
    endpoint.host = "127.0.0.1";
    endpoint.agent_port = *server->listen("127.0.0.1", 0, guest::Port::kAgent);
    endpoint.health_port = *server->listen("127.0.0.1", 0, guest::Port::kHealth);
    thread = std::thread([this] { (void)loop->run(); });
  }
  void TearDown() override {
    loop->post([this] { loop->stop(); });
    thread.join();
    server.reset();
  }

  guest::testing::FakeBackend backend;
  guest::Dispatcher dispatcher{"s3cret", backend};
  std::unique_ptr<guest::EventLoop> loop;
  std::unique_ptr<guest::AgentServer> server;
  std::thread thread;
  Endpoint endpoint;
};

TEST_F(ClientTest, TypedRoundTrips) {
  AgentClient c(endpoint, "s3cret");
  EXPECT_THAT(c.wait_for_agent(5'000), IsOk());
  EXPECT_THAT(c.health_ping(), IsOk());
  EXPECT_THAT(c.ensure_gateway(), HasError(ErrorCode::kExecFailed));
  EXPECT_THAT(c.inject_secrets({{"OPENCLAW_GATEWAY_TOKEN", "gw"}}), IsOk());
  auto g = c.ensure_gateway();
  ASSERT_THAT(g, IsOk());
  EXPECT_TRUE(g->launched);
  EXPECT_EQ(g->pid, 4242);
  EXPECT_FALSE(c.ensure_gateway()->launched);

  auto s = c.get_stats();
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->gateway_pid, 4242);
  EXPECT_EQ(s->memory_kb, 12345);

  EXPECT_THAT(c.set_time(1'800'000'000'000), IsOk());
  EXPECT_EQ(backend.now_ms, 1'800'000'000'000);
  EXPECT_THAT(c.set_time(-1), HasError(ErrorCode::kExecFailed));

  auto cron = c.get_cron_schedules();
  ASSERT_THAT(cron, IsOk());
  ASSERT_EQ(cron->size(), 1u);
  EXPECT_EQ((*cron)[0].id, "job1");
  EXPECT_EQ((*cron)[0].next_run_at_ms, 1'800'000'060'000);
  EXPECT_EQ((*cron)[0].schedule["expr"], "0 9 * * *");

  EXPECT_EQ(*c.poke_cron(), 1);
  auto hb = c.get_heartbeat_schedule();
  ASSERT_THAT(hb, IsOk());
  EXPECT_TRUE(hb->enabled);
  EXPECT_EQ(hb->interval_ms, 1'800'000);

  EXPECT_THAT(c.hold_acquire("h1", 300'000), IsOk());
  auto conns = c.get_active_connections();
  ASSERT_THAT(conns, IsOk());
  EXPECT_EQ(conns->tcp, 2);
  EXPECT_EQ(conns->hold, 1);
  EXPECT_EQ(conns->total(), 3);
  EXPECT_EQ(*c.hold_release("h1"), true);
  EXPECT_EQ(*c.hold_release("h1"), false);

  auto logs = c.get_logs(LogService::kDropbear);
  ASSERT_THAT(logs, IsOk());
  EXPECT_EQ(*logs, "log of dropbear");

  EXPECT_THAT(c.shutdown(), IsOk());
  EXPECT_TRUE(backend.shutdown_requested);
}

TEST_F(ClientTest, WrongTokenIsUnauthorizedAndNotLeaked) {
  AgentClient c(endpoint, "not-the-token");
  auto r = c.get_stats();
  ASSERT_THAT(r, HasError(ErrorCode::kAgentUnauthorized));
  EXPECT_EQ(r.error().to_string().find("not-the-token"), std::string::npos);
  // wait_for_agent gives up at once: retrying cannot fix a token.
  EXPECT_THAT(c.wait_for_agent(60'000), HasError(ErrorCode::kAgentUnauthorized));
}

TEST_F(ClientTest, ManyCallsInFlightAtOnce) {
  AgentClient c(endpoint, "s3cret");
  std::vector<PendingCall> calls;
  for (int i = 0; i < 50; ++i) {
    calls.push_back(*c.start("health-ping", json::object(), 5'000, i % 2 == 0));
  }
  run_all(calls);
  for (auto& call : calls) {
    auto r = call.take_result();
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ((*r)["reply"], "PONG");
  }
}

TEST(ClientErrors, ConnectRefusedIsVsockConnectFailed) {
  // Bind then close a port so nothing listens on it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  AgentClient c(
      {.host = "127.0.0.1", .agent_port = ntohs(a.sin_port), .health_port = ntohs(a.sin_port)},
      "t");
  EXPECT_THAT(c.get_stats(), HasError(ErrorCode::kVsockConnectFailed));
  EXPECT_THAT(c.wait_for_agent(300, 100, 50), HasError(ErrorCode::kVsockConnectFailed));
  // keep_waiting's error ends the wait long before its deadline.
  int checks = 0;
  auto vm_gone = [&checks]() -> Status {
    if (++checks < 3)
      return ok();
    return make_error(ErrorCode::kVmBootFailed, "the VM exited");
  };
  EXPECT_THAT(c.wait_for_agent(60'000, 100, 10, vm_gone), HasError(ErrorCode::kVmBootFailed));
  EXPECT_EQ(checks, 3);
  AgentClient bad({.host = "not-an-ip"}, "t");
  EXPECT_THAT(bad.health_ping(), HasError(ErrorCode::kVsockConnectFailed));
}

// A peer that accepts and never answers: the deadline yields kExecTimeout.
TEST(ClientErrors, SilentAgentTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody reads
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  AgentClient c({.host = "127.0.0.1", .agent_port = ntohs(a.sin_port)}, "t");
  EXPECT_THAT(c.get_stats(100), HasError(ErrorCode::kExecTimeout));
  ::close(fd);
}

TEST(ParseReply, RejectsMalformedReplies) {
  EXPECT_THAT(parse_reply("m", "PONG\n"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_reply("m", "{\"ok\":true}"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_reply("m", "{\"ok\":true}\n{\"ok\":true}\n"),
              HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_reply("m", "{\"x\":1}\n"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_reply("m", "{\"error\":\"unauthorized\"}\n"),
              HasError(ErrorCode::kAgentUnauthorized));
  EXPECT_THAT(parse_reply("m", "{\"error\":\"boom\"}\n"), HasError(ErrorCode::kExecFailed));
  EXPECT_THAT(parse_reply("m", "{\"ok\":true,\"a\":1}\n"), IsOk());
}

}  // namespace
}  // namespace lobster::agent
