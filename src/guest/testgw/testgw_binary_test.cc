// The static lobster-testgw binary itself, configured only through its environment as the
// guest supervisor does (OPENCLAW_GATEWAY_TOKEN, OPENCLAW_GATEWAY_PORT), on loopback.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "core/testing/matchers.h"
#include "guest/ws/connection.h"

namespace lobster::guest::testgw {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

uint16_t free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Kernel ABI: sockaddr_in is the IPv4 member of the sockaddr union.
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    return 0;
  socklen_t len = sizeof(a);
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

TEST(TestGatewayBinaryTest, ServesHealthAndTokenCheckedEcho) {
  const char* bin_dir = std::getenv("LOBSTER_BINARY_DIR");
  ASSERT_NE(bin_dir, nullptr);
  const std::string bin = std::string(bin_dir) + "/src/guest/testgw/lobster-testgw";
  ASSERT_EQ(::access(bin.c_str(), X_OK), 0) << bin;
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  std::string env_token = "OPENCLAW_GATEWAY_TOKEN=bin-token";
  std::string env_port = "OPENCLAW_GATEWAY_PORT=" + std::to_string(port);
  std::string env_bind = "LOBSTER_TESTGW_BIND=127.0.0.1";
  char* envp[] = {env_token.data(), env_port.data(), env_bind.data(), nullptr};
  std::string argv0 = bin;
  char* argv[] = {argv0.data(), nullptr};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(bin.c_str(), argv, envp);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);

  // Wait (bounded) until it accepts, then exercise it.
  Result<ws::Connection> conn = make_error(ErrorCode::kGatewayUnavailable, "not yet");
  for (int i = 0; i < 100; ++i) {
    conn = ws::connect_client({.port = port, .path = "/ws?token=bin-token"}, in_ms(2000));
    if (conn || conn.error().code != ErrorCode::kGatewayUnavailable)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_THAT(conn, IsOk());
  ASSERT_THAT(conn->send_text("ping from test", in_ms(5000)), IsOk());
  auto m = conn->receive(in_ms(5000));
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->data, "ping from test");
  auto bad = ws::connect_client({.port = port, .path = "/ws?token=nope"}, in_ms(5000));
  EXPECT_THAT(bad, HasError(ErrorCode::kProtocolError));

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

}  // namespace
}  // namespace lobster::guest::testgw
