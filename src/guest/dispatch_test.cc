#include "guest/dispatch.h"

#include <gtest/gtest.h>

#include <random>

#include "guest/protocol.h"
#include "guest/testing/fake_backend.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

class DispatchTest : public ::testing::Test {
 protected:
  json run(const json& req, Port port = Port::kAgent) { return run_line(req.dump(), port); }
  json run_line(std::string_view line, Port port = Port::kAgent) {
    json out;
    int calls = 0;
    dispatcher.dispatch(line, port, [&](json r) {
      out = std::move(r);
      ++calls;
    });
    EXPECT_EQ(calls, 1);
    return out;
  }
  json req(const std::string& type, json extra = json::object()) {
    extra["type"] = type;
    extra["token"] = "tok";
    return extra;
  }

  testing::FakeBackend backend;
  Dispatcher dispatcher{"tok", backend};
};

TEST_F(DispatchTest, HealthPingOnBothPorts) {
  EXPECT_EQ(run(req("health-ping")), (json{{"ok", true}, {"reply", "PONG"}}));
  EXPECT_EQ(run(req("health-ping"), Port::kHealth), (json{{"ok", true}, {"reply", "PONG"}}));
}

TEST_F(DispatchTest, HealthPortAnswersOnlyHealthPing) {
  EXPECT_EQ(run(req("get-stats"), Port::kHealth)["error"], "method not allowed on port 53");
  EXPECT_EQ(run(req("shutdown"), Port::kHealth)["error"], "method not allowed on port 53");
  EXPECT_FALSE(backend.shutdown_requested);
}

TEST_F(DispatchTest, WrongOrMissingTokenIsUnauthorized) {
  json bad = req("health-ping");
  bad["token"] = "tok2";
  EXPECT_EQ(run(bad), error_reply("unauthorized"));
  bad.erase("token");
  EXPECT_EQ(run(bad), error_reply("unauthorized"));
  bad["token"] = 12;
  EXPECT_EQ(run(bad), error_reply("unauthorized"));
  // The token is checked before the method: an unknown method with a bad token says nothing.
  EXPECT_EQ(run(json{{"type", "nope"}, {"token", "x"}}), error_reply("unauthorized"));
}

TEST_F(DispatchTest, UnconfiguredTokenFailsClosed) {
  Dispatcher open{"", backend};
  json out;
  open.dispatch(json{{"type", "health-ping"}, {"token", ""}}.dump(), Port::kAgent,
                [&](json r) { out = std::move(r); });
  EXPECT_EQ(out, error_reply("unauthorized"));
}

TEST_F(DispatchTest, InvalidInput) {
  EXPECT_EQ(run_line("{not json"), error_reply("invalid json"));
  EXPECT_EQ(run_line(""), error_reply("invalid json"));
  EXPECT_EQ(run_line("[1,2]"), error_reply("invalid request"));
  EXPECT_EQ(run(json{{"token", "tok"}}), error_reply("invalid request"));
  EXPECT_EQ(run(req("bogus"))["error"], "unknown method: bogus");
}

TEST_F(DispatchTest, HoldsAndParams) {
  EXPECT_EQ(run(req("hold-acquire", {{"holdId", "h1"}, {"ttlMs", 1000}})), json({{"ok", true}}));
  EXPECT_EQ(run(req("hold-acquire", {{"holdId", ""}, {"ttlMs", 1000}}))["error"], "Invalid holdId");
  EXPECT_EQ(run(req("hold-acquire", {{"holdId", "h2"}, {"ttlMs", 0}}))["error"], "Invalid ttlMs");
  EXPECT_EQ(run(req("hold-acquire", {{"holdId", "h2"}, {"ttlMs", "5"}}))["error"], "Invalid ttlMs");
  EXPECT_EQ(run(req("get-active-connections"))["hold"], 1);
  EXPECT_EQ(run(req("hold-release", {{"holdId", "h1"}}))["released"], true);
  EXPECT_EQ(run(req("hold-release", {{"holdId", "h1"}}))["released"], false);
  EXPECT_EQ(run(req("get-active-connections"))["hold"], 0);
}

TEST_F(DispatchTest, SetTimeValidatesTimestamp) {
  EXPECT_EQ(run(req("set-time", {{"timestampMs", -5}}))["error"], "Invalid timestampMs");
  EXPECT_EQ(run(req("set-time", {{"timestampMs", "1"}}))["error"], "Invalid timestampMs");
  EXPECT_EQ(run(req("set-time", {{"timestampMs", 1.8e12}})), json({{"ok", true}}));
  EXPECT_EQ(backend.now_ms, 1'800'000'000'000);
}

TEST_F(DispatchTest, GatewayAndLogs) {
  EXPECT_EQ(run(req("ensure-gateway"))["error"], "No gateway token available");
  EXPECT_EQ(run(req("inject-secrets", {{"secrets", {{"OPENCLAW_GATEWAY_TOKEN", "g"}}}}))["reply"],
            "ACK");
  EXPECT_EQ(run(req("inject-secrets", {{"secrets", "x"}}))["error"], "Invalid secrets");
  EXPECT_EQ(run(req("launch-openclaw"))["status"], "launched");
  EXPECT_EQ(run(req("ensure-gateway"))["status"], "already-running");
  EXPECT_EQ(run(req("get-logs"))["service"], "gateway");
  EXPECT_EQ(run(req("get-logs", {{"service", "dropbear"}}))["service"], "dropbear");
  EXPECT_EQ(run(req("get-logs", {{"service", "../etc"}}))["error"],
            "Invalid service (gateway|agent|dropbear)");
}

TEST_F(DispatchTest, DeferredRepliesArriveLater) {
  backend.defer = true;
  json out;
  dispatcher.dispatch(req("get-cron-schedules").dump(), Port::kAgent, [&](json r) { out = r; });
  EXPECT_TRUE(out.is_null());
  backend.complete_deferred();
  EXPECT_EQ(out["schedules"][0]["id"], "job1");
}

// Randomized run over the framing + dispatch core: every input, cut into random chunks,
// must yield exactly one JSON object reply (ok:true or error) and never crash (run under ASan).
TEST(ProtocolFuzz, HundredThousandInputs) {
  std::mt19937_64 rng(0x10b57e5);
  testing::FakeBackend backend;
  Dispatcher dispatcher("tok", backend);
  const std::vector<std::string> seeds = {
      R"({"type":"health-ping","token":"tok"})",
      R"({"type":"hold-acquire","token":"tok","holdId":"a","ttlMs":5})",
      R"({"type":"hold-release","token":"tok","holdId":"a"})",
      R"({"type":"set-time","token":"tok","timestampMs":1700000000000})",
      R"({"type":"get-logs","token":"tok","service":"agent"})",
      R"({"type":"inject-secrets","token":"tok","secrets":{"A":"b"}})",
      R"({"type":"get-cron-schedules","token":"tok"})",
      R"({"type":"get-active-connections","token":"tok"})",
      R"({"type":"get-heartbeat-schedule","token":"tok"})",
      R"({"type":"poke-cron","token":"tok"})",
      R"({"type":"ensure-gateway","token":"tok"})",
      R"({"type":"get-stats","token":"tok"})",
      R"({"type":"nope","token":"tok"})",
  };
  const std::string alphabet = "{}[]\":,0123456789.-+eE tnrufalse\\\n\x01\xff\xc3\xa9";
  int ok = 0;
  int errors = 0;
  constexpr int kRuns = 100'000;
  for (int i = 0; i < kRuns; ++i) {
    std::string input;
    switch (rng() % 4) {
      case 0: {  // random bytes
        size_t n = rng() % 64;
        for (size_t k = 0; k < n; ++k) {
          input.push_back(static_cast<char>(rng() & 0xFF));
        }
        break;
      }
      case 1: {  // random tokens from a JSON-ish alphabet
        size_t n = rng() % 96;
        for (size_t k = 0; k < n; ++k) {
          input.push_back(alphabet[rng() % alphabet.size()]);
        }
        break;
      }
      default: {  // mutated valid request
        input = seeds[rng() % seeds.size()];
        size_t edits = rng() % 4;
        for (size_t k = 0; k < edits && !input.empty(); ++k) {
          size_t pos = rng() % input.size();
          switch (rng() % 3) {
            case 0:
              input[pos] = alphabet[rng() % alphabet.size()];
              break;
            case 1:
              input.erase(pos, 1 + rng() % 3);
              break;
            default:
              input.insert(pos, 1, static_cast<char>(rng() & 0xFF));
              break;
          }
        }
        break;
      }
    }
    if (rng() % 4 != 0) {
      input.push_back('\n');
    }
    RequestFramer framer(rng() % 8 == 0 ? 32 : kMaxRequestBytes);
    size_t off = 0;
    while (off < input.size() && !framer.done()) {
      size_t n = 1 + rng() % 16;
      framer.feed(std::string_view(input).substr(off, n));
      off += n;
    }
    framer.feed_eof();
    std::string wire;
    switch (framer.state()) {
      case RequestFramer::State::kNeedMore:
        FAIL() << "framer not final after EOF";
      case RequestFramer::State::kTooLarge:
        wire = error_line(kErrTooLarge);
        break;
      case RequestFramer::State::kIncomplete:
        wire = error_line(kErrIncomplete);
        break;
      case RequestFramer::State::kComplete:
        dispatcher.dispatch(framer.line(), rng() % 5 == 0 ? Port::kHealth : Port::kAgent,
                            [&](json r) { wire += reply_line(r); });
        break;
    }
    ASSERT_EQ(wire.find('\n'), wire.size() - 1) << "input #" << i;
    json parsed = json::parse(wire, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << wire;
    if (parsed.contains("error")) {
      ASSERT_TRUE(parsed["error"].is_string());
      ++errors;
    } else {
      ASSERT_EQ(parsed["ok"], true) << wire;
      ++ok;
    }
  }
  EXPECT_EQ(ok + errors, kRuns);
  EXPECT_GT(ok, 1000);  // the mutator must still reach the methods, not only the parser
}

}  // namespace
}  // namespace lobster::guest
