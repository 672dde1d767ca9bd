#include "guest/openclaw_rpc.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include <functional>
#include <thread>

#include "core/testing/matchers.h"
#include "guest/ws/connection.h"

namespace lobster::guest {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using json = nlohmann::json;

// RFC 8032 §7.1 test 1.
constexpr std::array<uint8_t, 32> kSeed = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

DeviceIdentity test_identity() { return DeviceIdentity::from_seed(kSeed).value(); }

std::vector<uint8_t> from_base64url(const std::string& s) {
  std::vector<uint8_t> out(s.size());
  size_t len = 0;
  EXPECT_EQ(sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, nullptr,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING),
            0);
  out.resize(len);
  return out;
}

bool verifies(const std::string& pk_b64, const std::string& payload, const std::string& sig_b64) {
  auto pk = from_base64url(pk_b64);
  auto sig = from_base64url(sig_b64);
  if (pk.size() != 32 || sig.size() != 64)
    return false;
  return crypto_sign_verify_detached(sig.data(), reinterpret_cast<const uint8_t*>(payload.data()),
                                     payload.size(), pk.data()) == 0;
}

TEST(DeviceIdentityTest, Rfc8032KeyAndDeviceId) {
  DeviceIdentity id = test_identity();
  EXPECT_EQ(id.public_key_base64url(), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  // sha256 of the raw 32-byte public key, lowercase hex.
  EXPECT_EQ(id.device_id(), "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9");
  // RFC 8032 test 1 signature over the empty message.
  auto sig = from_base64url(id.sign_base64url(""));
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_EQ(sig[0], 0xe5);
  EXPECT_EQ(sig[63], 0x0b);
}

TEST(DeviceIdentityTest, GeneratedKeysDiffer) {
  auto a = DeviceIdentity::generate();
  auto b = DeviceIdentity::generate();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->device_id(), b->device_id());
  EXPECT_EQ(a->device_id().size(), 64u);
}

TEST(HandshakeTest, PayloadV3Format) {
  EXPECT_EQ(device_auth_payload_v3("dev", "tok", "nonce-1", 1700000000123),
            "v3|dev|gateway-client|backend|operator|operator.admin|1700000000123|tok|nonce-1|"
            "linux|");
}

TEST(HandshakeTest, ConnectParamsCarryAVerifiableSignature) {
  DeviceIdentity id = test_identity();
  json p = build_connect_params(id, "secret", {.nonce = "n-1", .ts_ms = 1700000000000}, 42);
  EXPECT_EQ(p["minProtocol"], 4);
  EXPECT_EQ(p["maxProtocol"], 4);
  EXPECT_EQ(p["client"]["id"], "gateway-client");
  EXPECT_EQ(p["client"]["mode"], "backend");
  EXPECT_EQ(p["client"]["platform"], "linux");
  EXPECT_EQ(p["role"], "operator");
  EXPECT_EQ(p["scopes"], json::array({"operator.admin"}));
  EXPECT_EQ(p["auth"]["token"], "secret");
  const json& d = p["device"];
  EXPECT_EQ(d["id"], id.device_id());
  EXPECT_EQ(d["nonce"], "n-1");
  EXPECT_EQ(d["signedAt"], 1700000000000);  // the server's challenge clock, not ours
  EXPECT_TRUE(verifies(d["publicKey"],
                       device_auth_payload_v3(id.device_id(), "secret", "n-1", 1700000000000),
                       d["signature"]));
  // Without a server timestamp the local clock is used.
  json q = build_connect_params(id, "secret", {.nonce = "n-1", .ts_ms = 0}, 42);
  EXPECT_EQ(q["device"]["signedAt"], 42);
}

TEST(HandshakeTest, ChallengeNeedsANonce) {
  auto c = parse_connect_challenge(json::parse(
      R"({"type":"event","event":"connect.challenge","payload":{"nonce":"x","ts":5}})"));
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->nonce, "x");
  EXPECT_EQ(c->ts_ms, 5);
  EXPECT_THAT(parse_connect_challenge(json::parse(R"({"payload":{"ts":5}})")),
              HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_connect_challenge(json::parse(R"({"payload":{"nonce":""}})")),
              HasError(ErrorCode::kProtocolError));
}

TEST(CronListTest, ParsesCompactAndFullJobs) {
  auto page = parse_cron_list(json::parse(R"({
    "jobs": [
      {"id": "a", "name": "Daily", "enabled": true, "nextRunAtMs": 1700000060000,
       "schedule": {"kind": "every", "everyMs": 60000}},
      {"id": "b", "enabled": false, "nextRunAtMs": null},
      {"id": "c", "name": "", "state": {"nextRunAtMs": 5, "runningAtMs": 4},
       "declarationKey": "heartbeat:main"}
    ],
    "hasMore": true, "nextOffset": 3})"));
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->jobs.size(), 3u);
  EXPECT_EQ(page->jobs[0].name, "Daily");
  EXPECT_EQ(page->jobs[0].next_run_at_ms, 1700000060000);
  EXPECT_EQ(page->jobs[0].schedule["everyMs"], 60000);
  EXPECT_FALSE(page->jobs[1].enabled);
  EXPECT_EQ(page->jobs[1].name, "b");
  EXPECT_EQ(page->jobs[1].next_run_at_ms, 0);
  EXPECT_TRUE(page->jobs[1].schedule.is_null());
  EXPECT_TRUE(page->jobs[2].enabled);
  EXPECT_EQ(page->jobs[2].name, "c");
  EXPECT_EQ(page->jobs[2].next_run_at_ms, 5);
  EXPECT_EQ(page->jobs[2].running_at_ms, 4);
  EXPECT_EQ(page->jobs[2].declaration_key, "heartbeat:main");
  EXPECT_EQ(page->jobs[0].declaration_key, "");
  EXPECT_EQ(page->next_offset, 3);
}

TEST(CronListTest, RejectsMalformedPayloads) {
  EXPECT_THAT(parse_cron_list(json::parse(R"({"nojobs":1})")), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_cron_list(json::parse(R"({"jobs":[{"name":"x"}]})")),
              HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_cron_list(json::parse(R"({"jobs":[],"hasMore":true})")),
              HasError(ErrorCode::kProtocolError));
  auto last = parse_cron_list(json::parse(R"({"jobs":[],"hasMore":false,"nextOffset":null})"));
  ASSERT_THAT(last, IsOk());
  EXPECT_FALSE(last->next_offset.has_value());
}

TEST(HeartbeatTest, ParsesOpenClawDurations) {
  EXPECT_EQ(parse_heartbeat_every("30m"), 1'800'000);
  EXPECT_EQ(parse_heartbeat_every(" 1.5H "), 5'400'000);
  EXPECT_EQ(parse_heartbeat_every("45s"), 45'000);
  EXPECT_EQ(parse_heartbeat_every("10"), 600'000);  // bare number = minutes
  EXPECT_EQ(parse_heartbeat_every("1h30m"), 5'400'000);
  EXPECT_EQ(parse_heartbeat_every("250ms"), 250);
  EXPECT_EQ(parse_heartbeat_every("1d"), 86'400'000);
  EXPECT_EQ(parse_heartbeat_every("0.0001s"), std::nullopt);  // rounds to 0
  EXPECT_EQ(parse_heartbeat_every("0m"), std::nullopt);
  EXPECT_EQ(parse_heartbeat_every(""), std::nullopt);
  EXPECT_EQ(parse_heartbeat_every("30 m"), std::nullopt);
  EXPECT_EQ(parse_heartbeat_every("1h30"), std::nullopt);  // composite segment without unit
  EXPECT_EQ(parse_heartbeat_every("1."), std::nullopt);
  EXPECT_EQ(parse_heartbeat_every("-5m"), std::nullopt);
  EXPECT_EQ(parse_heartbeat_every("5w"), std::nullopt);
}

TEST(HeartbeatTest, IntervalFromConfig) {
  EXPECT_EQ(heartbeat_interval_from_config(json::object()), std::nullopt);
  EXPECT_EQ(heartbeat_interval_from_config(
                json::parse(R"({"agents":{"defaults":{"heartbeat":{"every":"2h"}}}})")),
            7'200'000);
  EXPECT_EQ(
      heartbeat_interval_from_config(json::parse(R"({"agents":{"defaults":{"heartbeat":{}}}})")),
      1'800'000);
  EXPECT_EQ(heartbeat_interval_from_config(
                json::parse(R"({"agents":{"defaults":{"heartbeat":{"every":5}}}})")),
            std::nullopt);
}

TEST(HeartbeatTest, NextBeatIsStrictlyAfterNow) {
  constexpr int64_t kMin = 60'000;
  EXPECT_FALSE(compute_heartbeat_schedule(std::nullopt, 0, 1000).enabled);
  // No beat yet: now + interval.
  auto s = compute_heartbeat_schedule(30 * kMin, 0, 1'000'000);
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.interval_ms, 30 * kMin);
  EXPECT_EQ(s.next_beat_at_ms, 1'000'000 + 30 * kMin);
  // Recent beat: last + interval.
  EXPECT_EQ(compute_heartbeat_schedule(kMin, 1'000'000, 1'000'500).next_beat_at_ms,
            1'000'000 + kMin);
  // Exactly one and exactly three intervals elapsed: spec §16 item 24 returned next == now.
  EXPECT_EQ(compute_heartbeat_schedule(kMin, 1'000'000, 1'000'000 + kMin).next_beat_at_ms,
            1'000'000 + 2 * kMin);
  EXPECT_EQ(compute_heartbeat_schedule(kMin, 1'000'000, 1'000'000 + 3 * kMin).next_beat_at_ms,
            1'000'000 + 4 * kMin);
  // Missed beats: next grid point after now.
  EXPECT_EQ(compute_heartbeat_schedule(kMin, 1'000'000, 1'000'000 + 3 * kMin + 1).next_beat_at_ms,
            1'000'000 + 4 * kMin);
  for (int64_t now = 1'000'000; now < 1'000'000 + 5 * kMin; now += 7'919) {
    auto r = compute_heartbeat_schedule(kMin, 1'000'000, now);
    EXPECT_GT(r.next_beat_at_ms, now);
    EXPECT_LE(r.next_beat_at_ms, now + kMin);
    EXPECT_EQ((r.next_beat_at_ms - 1'000'000) % kMin, 0);
  }
}

// ---- Against a scripted fake gateway on loopback ------------------------------------------

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

// Accepts `connections` WebSocket clients in turn; `script` runs each with the connect
// request already validated the way OpenClaw does (nonce, v3 signature, device id).
class FakeGateway {
 public:
  using Script = std::function<void(ws::Connection&, const json& connect_req)>;
  // The first `retryable_rejections` connects are refused as OpenClaw does while starting.
  FakeGateway(int connections, std::string token, Script script, int retryable_rejections = 0,
              int retry_after_ms = 50)
      : token_(std::move(token)),
        script_(std::move(script)),
        retryable_rejections_(retryable_rejections),
        retry_after_ms_(retry_after_ms) {
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
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) serve_one();
    });
  }
  ~FakeGateway() { thread_.join(); }
  uint16_t port() const { return port_; }
  int connects_seen() const { return connects_seen_; }

 private:
  void serve_one() {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_THAT(ws::set_nonblocking(fd.get()), IsOk());
    auto head = ws::read_http_head(fd.get(), in_ms(5000), 16384);
    ASSERT_THAT(head, IsOk());
    auto req = ws::parse_http_request(head->head);
    ASSERT_THAT(req, IsOk());
    auto resp = ws::server_handshake_response(*req);
    ASSERT_THAT(resp, IsOk());
    ASSERT_THAT(ws::write_all(fd.get(), *resp, in_ms(5000)), IsOk());
    ws::Connection conn(std::move(fd), ws::Role::kServer, 1 << 20, head->rest);
    // An unrelated event first: the client must skip it.
    ASSERT_THAT(conn.send_text(R"({"type":"event","event":"tick","payload":{}})", in_ms(5000)),
                IsOk());
    const std::string nonce = "nonce-" + std::to_string(connects_seen_);
    const int64_t ts = 1'700'000'000'000;
    json challenge = {{"type", "event"},
                      {"event", "connect.challenge"},
                      {"payload", {{"nonce", nonce}, {"ts", ts}}}};
    ASSERT_THAT(conn.send_text(challenge.dump(), in_ms(5000)), IsOk());
    auto m = conn.receive(in_ms(5000));
    ASSERT_THAT(m, IsOk());
    json connect = json::parse(m->data);
    EXPECT_EQ(connect["type"], "req");
    EXPECT_EQ(connect["method"], "connect");
    const json& d = connect["params"]["device"];
    EXPECT_EQ(d["nonce"], nonce);
    EXPECT_EQ(d["signedAt"], ts);
    const std::string payload =
        device_auth_payload_v3(d["id"].get<std::string>(),
                               connect["params"]["auth"]["token"].get<std::string>(), nonce, ts);
    const bool sig_ok = verifies(d["publicKey"], payload, d["signature"]);
    EXPECT_TRUE(sig_ok);
    ++connects_seen_;
    if (connects_seen_ <= retryable_rejections_) {
      json res = {{"type", "res"},
                  {"id", connect["id"]},
                  {"ok", false},
                  {"error",
                   {{"code", "UNAVAILABLE"},
                    {"message", "gateway starting; retry shortly"},
                    {"retryable", true},
                    {"retryAfterMs", retry_after_ms_}}}};
      (void)conn.send_text(res.dump(), in_ms(5000));
      (void)conn.send_close(1013, "starting", in_ms(5000));
      return;
    }
    if (!sig_ok || connect["params"]["auth"]["token"] != token_) {
      json res = {{"type", "res"},
                  {"id", connect["id"]},
                  {"ok", false},
                  {"error", {{"code", "INVALID_REQUEST"}, {"message", "unauthorized"}}}};
      (void)conn.send_text(res.dump(), in_ms(5000));
      (void)conn.send_close(1008, "unauthorized", in_ms(5000));
      return;
    }
    json hello = {{"type", "res"},
                  {"id", connect["id"]},
                  {"ok", true},
                  {"payload", {{"type", "hello-ok"}, {"protocol", 4}}}};
    ASSERT_THAT(conn.send_text(hello.dump(), in_ms(5000)), IsOk());
    script_(conn, connect);
  }

  std::string token_;
  Script script_;
  int retryable_rejections_ = 0;
  int retry_after_ms_ = 50;
  UniqueFd listen_fd_;
  uint16_t port_ = 0;
  std::thread thread_;
  int connects_seen_ = 0;
};

json next_request(ws::Connection& c) {
  auto m = c.receive(in_ms(5000));
  EXPECT_THAT(m, IsOk());
  if (!m || m->opcode != ws::Opcode::kText)
    return json();
  return json::parse(m->data);
}

void respond(ws::Connection& c, const json& req, json payload) {
  json res = {{"type", "res"}, {"id", req["id"]}, {"ok", true}, {"payload", std::move(payload)}};
  EXPECT_THAT(c.send_text(res.dump(), in_ms(5000)), IsOk());
}

TEST(GatewayClientTest, ListsCronJobsAcrossPages) {
  FakeGateway gw(1, "tok", [](ws::Connection& c, const json&) {
    json r1 = next_request(c);
    EXPECT_EQ(r1["method"], "cron.list");
    EXPECT_EQ(r1["params"]["offset"], 0);
    respond(c, r1, json::parse(R"({"jobs":[{"id":"a","nextRunAtMs":10}],
                                   "hasMore":true,"nextOffset":1})"));
    json r2 = next_request(c);
    EXPECT_EQ(r2["params"]["offset"], 1);
    EXPECT_NE(r2["id"], r1["id"]);
    respond(c, r2, json::parse(R"({"jobs":[{"id":"b","enabled":false}],"hasMore":false})"));
  });
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  auto jobs = client.list_cron_jobs(5000);
  ASSERT_THAT(jobs, IsOk());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id, "a");
  EXPECT_EQ((*jobs)[0].next_run_at_ms, 10);
  EXPECT_FALSE((*jobs)[1].enabled);
}

TEST(GatewayClientTest, RunCronJobAndLastHeartbeat) {
  FakeGateway gw(3, "tok", [](ws::Connection& c, const json&) {
    json r = next_request(c);
    if (r["method"] == "cron.run") {
      EXPECT_EQ(r["params"], json::parse(R"({"id":"job-1","mode":"due"})"));
      respond(c, r, json::parse(R"({"ok":true,"ran":false})"));
    } else if (r["method"] == "last-heartbeat") {
      EXPECT_FALSE(r.contains("params"));
      static int n = 0;
      respond(c, r, n++ == 0 ? json() : json::parse(R"({"ts":1700000000999,"status":"ok"})"));
    }
  });
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  EXPECT_THAT(client.run_cron_job("job-1", "due", 5000), IsOk());
  auto none = client.last_heartbeat_ms(5000);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(*none, 0);
  auto last = client.last_heartbeat_ms(5000);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, 1700000000999);
}

TEST(GatewayClientTest, RetriesWhileTheGatewayIsStarting) {
  FakeGateway gw(
      3, "tok",
      [](ws::Connection& c, const json&) {
        json r = next_request(c);
        respond(c, r, json::parse(R"({"ok":true})"));
      },
      2);
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  auto r = client.call("health", json(), 5000);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ((*r)["ok"], true);
}

TEST(GatewayClientTest, StillStartingAtTheDeadlineIsUnavailable) {
  // The gateway asks for a 2 s pause but only 1 s is left: give up at once, no reconnect.
  FakeGateway gw(
      1, "tok", [](ws::Connection&, const json&) {}, 1, 2000);
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  // (Sleeping 2 s first would end in kExecTimeout on the reconnect instead.)
  auto r = client.call("health", json(), 1000);
  ASSERT_THAT(r, HasError(ErrorCode::kGatewayUnavailable));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("gateway starting"));
}

TEST(GatewayClientTest, WrongTokenIsRejected) {
  FakeGateway gw(1, "right", [](ws::Connection&, const json&) {});
  GatewayClient client({.port = gw.port(), .token = "wrong"}, test_identity());
  auto r = client.call("health", json(), 5000);
  ASSERT_THAT(r, HasError(ErrorCode::kGatewayRpcFailed));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("unauthorized"));
  EXPECT_THAT(r.error().message, ::testing::Not(::testing::HasSubstr("wrong")));
}

TEST(GatewayClientTest, MethodErrorIsGatewayRpcFailed) {
  FakeGateway gw(1, "tok", [](ws::Connection& c, const json&) {
    json r = next_request(c);
    json res = {{"type", "res"},
                {"id", r["id"]},
                {"ok", false},
                {"error", {{"code", "INVALID_REQUEST"}, {"message", "unknown method: nope"}}}};
    EXPECT_THAT(c.send_text(res.dump(), in_ms(5000)), IsOk());
  });
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  auto r = client.call("nope", json::object(), 5000);
  ASSERT_THAT(r, HasError(ErrorCode::kGatewayRpcFailed));
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("unknown method"));
}

TEST(GatewayClientTest, SilentGatewayTimesOut) {
  FakeGateway gw(1, "tok", [](ws::Connection& c, const json&) {
    (void)next_request(c);
    (void)c.receive(in_ms(2000));  // never answer; wait for the client to give up
  });
  GatewayClient client({.port = gw.port(), .token = "tok"}, test_identity());
  EXPECT_THAT(client.call("cron.list", json::object(), 300), HasError(ErrorCode::kExecTimeout));
}

TEST(GatewayClientTest, NoGatewayIsUnavailable) {
  uint16_t port = 0;
  {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    port = ntohs(a.sin_port);
  }
  GatewayClient client({.port = port, .token = "tok"}, test_identity());
  EXPECT_THAT(client.list_cron_jobs(2000), HasError(ErrorCode::kGatewayUnavailable));
  // The heartbeat schedule degrades to "no beat yet" instead of failing.
  auto cfg = json::parse(R"({"agents":{"defaults":{"heartbeat":{"every":"10m"}}}})");
  HeartbeatSchedule hb = client.heartbeat_schedule(cfg, 1'000'000, 2000);
  EXPECT_TRUE(hb.enabled);
  EXPECT_EQ(hb.next_beat_at_ms, 1'000'000 + 600'000);
  EXPECT_FALSE(client.heartbeat_schedule(json::object(), 1'000'000, 2000).enabled);
}

}  // namespace
}  // namespace lobster::guest
