// Pure helpers of lobster-init: holds, restart backoff, log rotation, /proc parsers, config
// disk and profile parsing, and the supervisor with real /bin/sh children.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "core/testing/matchers.h"
#include "guest/backoff.h"
#include "guest/guest_config.h"
#include "guest/holds.h"
#include "guest/log_file.h"
#include "guest/proc_stats.h"
#include "guest/supervisor.h"

namespace lobster::guest {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(HoldTable, AcquireRefreshReleaseExpire) {
  HoldTable h;
  EXPECT_TRUE(h.acquire("a", 1000, 0));
  EXPECT_TRUE(h.acquire("b", 5000, 0));
  EXPECT_EQ(h.count(999), 2);
  EXPECT_TRUE(h.acquire("a", 1000, 900));  // refresh to 1900
  EXPECT_EQ(h.count(1500), 2);
  EXPECT_EQ(h.count(1900), 1);  // expired holds are dropped
  EXPECT_FALSE(h.release("a"));
  EXPECT_TRUE(h.release("b"));
  EXPECT_EQ(h.count(0), 0);
}

TEST(HoldTable, BoundedSize) {
  HoldTable h;
  for (size_t i = 0; i < HoldTable::kMaxHolds; ++i) {
    ASSERT_TRUE(h.acquire("h" + std::to_string(i), 100, 0));
  }
  EXPECT_FALSE(h.acquire("one-too-many", 100, 0));
  EXPECT_TRUE(h.acquire("h0", 100, 0));       // refresh still works
  EXPECT_TRUE(h.acquire("later", 100, 200));  // expired ones make room
}

TEST(Backoff, DoublesCapsAndResetsAfterStableRun) {
  BackoffPolicy p;  // 200 ms, cap 10 s, stable 10 s
  EXPECT_EQ(backoff_delay_ms(p, 0), 200);
  EXPECT_EQ(backoff_delay_ms(p, 1), 200);
  EXPECT_EQ(backoff_delay_ms(p, 2), 400);
  EXPECT_EQ(backoff_delay_ms(p, 5), 3200);
  EXPECT_EQ(backoff_delay_ms(p, 7), 10'000);
  EXPECT_EQ(backoff_delay_ms(p, 1000), 10'000);

  RestartBackoff b(p);
  EXPECT_EQ(b.on_exit(0, 50), 200);
  EXPECT_EQ(b.on_exit(250, 300), 400);
  EXPECT_EQ(b.on_exit(700, 800), 800);
  EXPECT_EQ(b.on_exit(1000, 11'000), 200);  // stayed up 10 s: back to the first delay
  EXPECT_EQ(b.failures(), 1);
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lobster-guest-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string dir;
};

using RotatingLogTest = TempDir;

TEST(LogRotation, Decision) {
  EXPECT_FALSE(needs_rotation(0, 5000, 1000));  // empty file: write (truncated by caller)
  EXPECT_FALSE(needs_rotation(500, 500, 1000));
  EXPECT_TRUE(needs_rotation(500, 501, 1000));
}

TEST_F(RotatingLogTest, StaysUnderCapWithOneOldFile) {
  std::string path = dir + "/gateway.log";
  RotatingLog log(path, 1000);
  for (int i = 0; i < 500; ++i) {
    log.append("line " + std::to_string(i) + " xxxxxxxxxxxxxxxx\n");
    ASSERT_LE(std::filesystem::file_size(path), 1000u);
  }
  EXPECT_LE(std::filesystem::file_size(path + ".1"), 1000u);
  EXPECT_FALSE(std::filesystem::exists(path + ".2"));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // A single oversized write keeps its tail.
  log.append(std::string(5000, 'z') + "END\n");
  EXPECT_LE(std::filesystem::file_size(path), 1000u);
  std::string tail = read_log_tail(path, 4000);
  EXPECT_TRUE(tail.ends_with("END\n"));
}

TEST_F(RotatingLogTest, TailSpansTheRotatedFile) {
  std::string path = dir + "/agent.log";
  RotatingLog log(path, 100);
  for (int i = 0; i < 30; ++i) {
    log.append("0123456789");  // 300 bytes: rotated twice
  }
  std::string tail = read_log_tail(path, 150);
  EXPECT_EQ(tail.size(), 150u);
  EXPECT_EQ(read_log_tail(dir + "/missing.log", 4000), "");
}

TEST(ProcStats, CountsEstablishedInboundGatewayConnections) {
  std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   1: 0600000A:2328 0500000A:C350 01 00000000:00000000 00:00000000 00000000     0\n"
      "   2: 0100007F:2328 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0\n"
      "   3: 0100007F:A000 0100007F:2328 01 00000000:00000000 00:00000000 00000000     0\n"
      "   4: 0600000A:0016 0500000A:C351 01 00000000:00000000 00:00000000 00000000     0\n"
      "   5: 0600000A:2328 0500000A:C352 06 00000000:00000000 00:00000000 00000000     0\n";
  EXPECT_EQ(count_established_inbound(tcp, 9000), 2);  // lines 1 and 2 only
  EXPECT_EQ(count_established_inbound(tcp, 22), 1);
  EXPECT_EQ(count_established_inbound("", 9000), 0);
  std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 0000000000000000FFFF00000600000A:2328 0000000000000000FFFF00000500000A:D431 01 0\n";
  EXPECT_EQ(count_established_inbound(tcp6, 9000), 1);
}

TEST(ProcStats, CountsOutboundConnectionsButNotClientsOrLoopback) {
  std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   2: 0600000A:2328 0500000A:C350 01 00000000:00000000 00:00000000 00000000     0\n"
      "   3: 0600000A:0016 0500000A:C351 01 00000000:00000000 00:00000000 00000000     0\n"
      "   4: 0600000A:D000 22334455:01BB 01 00000000:00000000 00:00000000 00000000     0\n"
      "   5: 0100007F:A000 0100007F:2328 01 00000000:00000000 00:00000000 00000000     0\n"
      "   6: 0600000A:D001 22334455:01BB 06 00000000:00000000 00:00000000 00000000     0\n"
      "   7: garbage\n";
  std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 0000000000000000FFFF00000600000A:D002 0000000000000000FFFF000022334455:01BB 01 0\n"
      "   1: 0000000000000000FFFF00000600000A:D003 0000000000000000FFFF00000100007F:2328 01 0\n";
  // Line 4 (to port 443) and the v4-mapped one; not the clients (2, 3), the loopback RPCs,
  // the TIME_WAIT one or the malformed line.
  EXPECT_EQ(count_established_outbound(tcp, tcp6), 2);
  EXPECT_EQ(count_established_outbound("", ""), 0);
}

TEST(ProcStats, VmRss) {
  EXPECT_EQ(parse_vm_rss_kb("Name:\tnode\nVmPeak:\t 1 kB\nVmRSS:\t  834512 kB\n"), 834512);
  EXPECT_EQ(parse_vm_rss_kb("Name:\tkthread\n"), 0);
}

std::string disk(const std::string& json) {
  std::string d = std::string(kConfigMagic) + json + "\n";
  d.resize(4096, '\0');
  return d;
}

TEST(ConfigDisk, ParsesTheContractLayout) {
  auto cfg = parse_config_disk(disk(R"({"version":1,"hostname":"t1","agentToken":"A",
    "gatewayToken":"G","network":{"address":"10.0.0.6","prefixLength":30,"gateway":"10.0.0.5",
    "dns":["1.1.1.1"]},"ssh":{"authorizedKey":"ssh-ed25519 AAAA k","hostKeyDropbear":"aGVsbG8="},
    "openclawConfig":{"gateway":{"bind":"custom"}},"agentPort":52,"healthPort":53,
    "hostTimeMs":1700000000000,"futureKey":true})"));
  ASSERT_THAT(cfg, IsOk());
  EXPECT_EQ(cfg->hostname, "t1");
  EXPECT_EQ(cfg->agent_token, "A");
  EXPECT_EQ(cfg->gateway_token, "G");
  EXPECT_EQ(cfg->network.address, "10.0.0.6");
  EXPECT_EQ(cfg->network.prefix_length, 30);
  EXPECT_EQ(cfg->network.gateway, "10.0.0.5");
  EXPECT_EQ(cfg->network.dns, std::vector<std::string>{"1.1.1.1"});
  EXPECT_EQ(cfg->ssh_host_key, "hello");
  EXPECT_EQ(cfg->openclaw_config["gateway"]["bind"], "custom");
  EXPECT_EQ(cfg->host_time_ms, 1'700'000'000'000);
}

TEST(ConfigDisk, RejectsMissingRequiredKeys) {
  EXPECT_THAT(parse_config_disk("garbage"), HasError(ErrorCode::kConfigInvalid));
  EXPECT_THAT(parse_config_disk(std::string(kConfigMagic) + "{\"version\":1}"),
              HasError(ErrorCode::kConfigInvalid));  // no newline terminator
  auto no_token =
      parse_config_disk(disk(R"({"version":1,"hostname":"t1","network":{"address":"10.0.0.6"}})"));
  ASSERT_THAT(no_token, HasError(ErrorCode::kConfigInvalid));
  EXPECT_NE(no_token.error().message.find("agentToken"), std::string::npos);
  EXPECT_THAT(parse_config_disk(disk(R"({"version":2,"hostname":"t","agentToken":"a",
    "network":{"address":"10.0.0.6"}})")),
              HasError(ErrorCode::kConfigInvalid));
  EXPECT_THAT(parse_config_disk(disk(R"({"version":1,"hostname":"t","agentToken":"a",
    "network":{"address":"10.0.0.6"},"ssh":{"hostKeyDropbear":"!!"}})")),
              HasError(ErrorCode::kConfigInvalid));
}

TEST(Profile, Parses) {
  auto p = parse_profile(R"({"profile":"minimal","gateway":{"argv":["/usr/bin/lobster-testgw"],
    "env":{"K":"V"},"cwd":"/root"}})");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->argv, std::vector<std::string>{"/usr/bin/lobster-testgw"});
  EXPECT_EQ(p->env.at("K"), "V");
  EXPECT_THAT(parse_profile(R"({"gateway":{"argv":[]}})"), HasError(ErrorCode::kConfigInvalid));
}

TEST(Base64AndMask, Basics) {
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9v\nYg"), "foob");
  EXPECT_FALSE(base64_decode("Zm9v*").has_value());
  EXPECT_EQ(prefix_to_mask(30), 0xFFFFFFFCu);
  EXPECT_EQ(prefix_to_mask(0), 0u);
  EXPECT_EQ(prefix_to_mask(32), 0xFFFFFFFFu);
}

using SupervisorTest = TempDir;

// Drives the loop until `cond` holds (bounded by a generous deadline, not a timing assertion).
template <typename F>
bool run_until(EventLoop& loop, F cond, int64_t limit_ms = 20'000) {
  int64_t end = EventLoop::now_ms() + limit_ms;
  while (!cond() && EventLoop::now_ms() < end) {
    (void)loop.run_once(20);
  }
  return cond();
}

TEST_F(SupervisorTest, CapturesOutputAndRestartsWithBackoff) {
  auto loop = std::move(*EventLoop::create());
  std::vector<std::string> notes;
  Service svc(*loop,
              ServiceSpec{.name = "flappy",
                          .argv = {"/bin/sh", "-c", "echo out-$X; echo err >&2; exit 3"},
                          .env = {"X=42", "PATH=/bin:/usr/bin"},
                          .cwd = "/",
                          .log_path = dir + "/flappy.log",
                          .backoff = {.initial_ms = 10, .max_ms = 40, .stable_ms = 10'000}},
              [&](const std::string& n) { notes.push_back(n); });
  ASSERT_THAT(svc.start(), IsOk());
  // This test process is not PID 1: reap our own children the way lobster-init does.
  auto reap = [&] {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      svc.handle_exit(pid, status);
    }
  };
  ASSERT_TRUE(run_until(*loop, [&] {
    reap();
    return svc.restarts() >= 3;
  }));
  svc.stop(SIGKILL);
  ASSERT_TRUE(run_until(*loop, [&] {
    reap();
    return !svc.running();
  }));
  std::string log = read_log_tail(dir + "/flappy.log", 4000);
  EXPECT_NE(log.find("out-42\n"), std::string::npos);
  EXPECT_NE(log.find("err\n"), std::string::npos);
  bool saw_exit = false;
  for (const auto& n : notes) {
    saw_exit = saw_exit || n.find("exited (code 3); restart in") != std::string::npos;
  }
  EXPECT_TRUE(saw_exit);
}

TEST_F(SupervisorTest, StopDisablesRestart) {
  auto loop = std::move(*EventLoop::create());
  Service svc(*loop,
              ServiceSpec{.name = "sleeper",
                          .argv = {"/bin/sleep", "100"},
                          .env = {},
                          .cwd = "/",
                          .log_path = dir + "/sleeper.log"},
              [](const std::string&) {});
  ASSERT_THAT(svc.start(), IsOk());
  pid_t first = svc.pid();
  svc.stop(SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, 0), first);
  EXPECT_TRUE(svc.handle_exit(first, status));
  (void)loop->run_once(50);
  EXPECT_FALSE(svc.running());
  EXPECT_EQ(svc.restarts(), 0);
}

}  // namespace
}  // namespace lobster::guest
