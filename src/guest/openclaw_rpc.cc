#include "guest/openclaw_rpc.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "guest/ws/connection.h"

namespace lobster::guest {
namespace {

using json = nlohmann::json;

// Bounds how many unrelated frames (events, stale responses) one call will skip.
constexpr int kMaxSkippedFrames = 10'000;
// cron.list pages hold at most 200 jobs; this bounds a misbehaving server's paging.
constexpr int kMaxCronPages = 100;

Status ensure_sodium() {
  if (::sodium_init() < 0)
    return make_error(ErrorCode::kInternal, "libsodium init failed");
  return ok();
}

std::string to_base64url(const uint8_t* data, size_t len) {
  std::string out(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  ::sodium_bin2base64(out.data(), out.size(), data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

std::string lower_trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int64_t json_int(const json& obj, std::string_view key) {
  if (!obj.is_object())
    return 0;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number())
    return 0;
  double v = it->get<double>();
  return std::isfinite(v) ? static_cast<int64_t>(v) : 0;
}

std::string describe_gateway_error(const json& frame) {
  const json* err = frame.contains("error") ? &frame["error"] : nullptr;
  if (err == nullptr || !err->is_object())
    return "no error detail";
  std::string out = err->value("code", std::string("?"));
  out += ": " + err->value("message", std::string("?"));
  if (err->contains("details") && (*err)["details"].is_object()) {
    const json& d = (*err)["details"];
    if (d.contains("reason") && d["reason"].is_string()) {
      out += " (" + d["reason"].get<std::string>() + ")";
    }
  }
  return out;
}

Result<json> parse_frame(const std::string& text) {
  json frame = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (frame.is_discarded() || !frame.is_object()) {
    return make_error(ErrorCode::kProtocolError, "gateway sent a frame that is not a JSON object");
  }
  return frame;
}

// True for OpenClaw's "try again shortly" rejections (e.g. UNAVAILABLE "gateway starting"
// while its startup sidecars load, a few seconds after the HTTP server is up).
bool is_retryable(const json& res) {
  auto err = res.find("error");
  return err != res.end() && err->is_object() && err->value("retryable", false);
}

int retry_after_ms(const json& res) {
  const int64_t ms = json_int(res["error"], "retryAfterMs");
  return static_cast<int>(std::clamp<int64_t>(ms > 0 ? ms : 500, 50, 2000));
}

// One authenticated WebSocket session with the gateway.
class Session {
 public:
  // Connects and authenticates; retries retryable rejections (a gateway still starting)
  // until the deadline.
  static Result<Session> open(const RpcTarget& target, const DeviceIdentity& identity,
                              ws::Deadline deadline) {
    for (;;) {
      auto conn = LOB_TRY(ws::connect_client(
          {.host = target.host, .port = target.port, .path = target.path}, deadline));
      Session s(std::move(conn));
      const json challenge_frame = LOB_TRY(s.wait_for(
          [](const json& f) {
            return f.value("type", "") == "event" && f.value("event", "") == "connect.challenge";
          },
          deadline));
      ConnectChallenge challenge = LOB_TRY(parse_connect_challenge(challenge_frame));
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      json params = build_connect_params(identity, target.token, challenge, now_ms);
      const json res = LOB_TRY(s.exchange("connect", std::move(params), deadline));
      if (res.value("ok", false))
        return s;
      if (is_retryable(res)) {
        const int wait_ms = retry_after_ms(res);
        if (ws::remaining_ms(deadline) > wait_ms) {
          std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
          continue;
        }
        return make_error(ErrorCode::kGatewayUnavailable, "gateway not ready before deadline: {}",
                          describe_gateway_error(res));
      }
      return make_error(ErrorCode::kGatewayRpcFailed, "gateway rejected connect: {}",
                        describe_gateway_error(res));
    }
  }

  Result<json> request(std::string_view method, json params, ws::Deadline deadline) {
    const json res = LOB_TRY(exchange(method, std::move(params), deadline));
    if (!res.value("ok", false)) {
      return make_error(ErrorCode::kGatewayRpcFailed, "gateway rejected {}: {}", method,
                        describe_gateway_error(res));
    }
    return res.contains("payload") ? res["payload"] : json();
  }

  void close(ws::Deadline deadline) { (void)conn_.send_close(1000, "done", deadline); }

 private:
  explicit Session(ws::Connection conn) : conn_(std::move(conn)) {}

  // Sends one request and returns its response frame, ok or not.
  Result<json> exchange(std::string_view method, json params, ws::Deadline deadline) {
    const std::string id = std::to_string(next_id_++);
    json req = {{"type", "req"}, {"id", id}, {"method", std::string(method)}};
    if (!params.is_null())
      req["params"] = std::move(params);
    LOB_TRY(conn_.send_text(req.dump(), deadline));
    return wait_for(
        [&id](const json& f) {
          return f.value("type", "") == "res" && f.contains("id") && f["id"] == id;
        },
        deadline);
  }

  template <typename Pred>
  Result<json> wait_for(Pred pred, ws::Deadline deadline) {
    for (int i = 0; i < kMaxSkippedFrames; ++i) {
      ws::Message m = LOB_TRY(conn_.receive(deadline));
      if (m.opcode == ws::Opcode::kClose) {
        return make_error(ErrorCode::kGatewayRpcFailed, "gateway closed the connection: {} {}",
                          m.close_code, m.data);
      }
      if (m.opcode != ws::Opcode::kText)
        continue;
      json frame = LOB_TRY(parse_frame(m.data));
      if (pred(frame))
        return frame;
    }
    return make_error(ErrorCode::kProtocolError, "gateway sent too many unrelated frames");
  }

  ws::Connection conn_;
  uint64_t next_id_ = 1;
};

ws::Deadline deadline_in(int timeout_ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
}

}  // namespace

// ---- DeviceIdentity ---------------------------------------------------------------------

DeviceIdentity::~DeviceIdentity() { ::sodium_memzero(secret_key_.data(), secret_key_.size()); }

Result<DeviceIdentity> DeviceIdentity::generate() {
  LOB_TRY(ensure_sodium());
  std::array<uint8_t, 32> seed{};
  ::randombytes_buf(seed.data(), seed.size());
  auto id = from_seed(seed);
  ::sodium_memzero(seed.data(), seed.size());
  return id;
}

Result<DeviceIdentity> DeviceIdentity::from_seed(std::span<const uint8_t, 32> seed) {
  LOB_TRY(ensure_sodium());
  DeviceIdentity id;
  if (::crypto_sign_seed_keypair(id.public_key_.data(), id.secret_key_.data(), seed.data()) != 0) {
    return make_error(ErrorCode::kInternal, "ed25519 keypair from seed failed");
  }
  std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
  ::crypto_hash_sha256(digest.data(), id.public_key_.data(), id.public_key_.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  ::sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  id.device_id_ = std::move(hex);
  return id;
}

std::string DeviceIdentity::public_key_base64url() const {
  return to_base64url(public_key_.data(), public_key_.size());
}

std::string DeviceIdentity::sign_base64url(std::string_view payload) const {
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  // Kernel ABI is not involved: char and unsigned char alias the same bytes.
  ::crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(payload.data()),
                         payload.size(), secret_key_.data());
  return to_base64url(sig.data(), sig.size());
}

// ---- Handshake pieces -------------------------------------------------------------------

Result<ConnectChallenge> parse_connect_challenge(const json& frame) {
  const json& payload = frame.contains("payload") ? frame["payload"] : json();
  if (!payload.is_object() || !payload.contains("nonce") || !payload["nonce"].is_string() ||
      payload["nonce"].get<std::string>().empty()) {
    return make_error(ErrorCode::kProtocolError, "gateway connect.challenge without a nonce");
  }
  ConnectChallenge c;
  c.nonce = payload["nonce"].get<std::string>();
  c.ts_ms = json_int(payload, "ts");
  return c;
}

std::string device_auth_payload_v3(std::string_view device_id, std::string_view token,
                                   std::string_view nonce, int64_t signed_at_ms) {
  std::string out = "v3|";
  out += device_id;
  out += '|';
  out += kClientId;
  out += '|';
  out += kClientMode;
  out += '|';
  out += kRole;
  out += '|';
  out += kScope;  // a single scope: the comma-joined list is just that scope
  out += '|';
  out += std::to_string(signed_at_ms);
  out += '|';
  out += token;
  out += '|';
  out += nonce;
  out += '|';
  out += lower_trim(kClientPlatform);
  out += '|';  // deviceFamily: not sent, signed as ""
  return out;
}

json build_connect_params(const DeviceIdentity& identity, std::string_view token,
                          const ConnectChallenge& challenge, int64_t now_ms) {
  const int64_t signed_at = challenge.ts_ms > 0 ? challenge.ts_ms : now_ms;
  const std::string payload =
      device_auth_payload_v3(identity.device_id(), token, challenge.nonce, signed_at);
  return json{
      {"minProtocol", kProtocolVersion},
      {"maxProtocol", kProtocolVersion},
      {"client",
       {{"id", kClientId},
        {"version", "1.0.0"},
        {"platform", kClientPlatform},
        {"mode", kClientMode},
        {"displayName", "lobster-init"}}},
      {"role", kRole},
      {"scopes", json::array({kScope})},
      {"caps", json::array()},
      {"auth", {{"token", token}}},
      {"device",
       {{"id", identity.device_id()},
        {"publicKey", identity.public_key_base64url()},
        {"signature", identity.sign_base64url(payload)},
        {"signedAt", signed_at},
        {"nonce", challenge.nonce}}},
  };
}

// ---- GatewayClient ----------------------------------------------------------------------

GatewayClient::GatewayClient(RpcTarget target, DeviceIdentity identity)
    : target_(std::move(target)), identity_(std::move(identity)) {}

Result<json> GatewayClient::call(std::string_view method, json params, int timeout_ms) {
  const ws::Deadline deadline = deadline_in(timeout_ms);
  Session s = LOB_TRY(Session::open(target_, identity_, deadline));
  json out = LOB_TRY(s.request(method, std::move(params), deadline));
  s.close(deadline);
  return out;
}

Result<std::vector<CronJob>> GatewayClient::list_cron_jobs(int timeout_ms) {
  const ws::Deadline deadline = deadline_in(timeout_ms);
  Session s = LOB_TRY(Session::open(target_, identity_, deadline));
  std::vector<CronJob> all;
  int64_t offset = 0;
  for (int page_no = 0; page_no < kMaxCronPages; ++page_no) {
    json params = {{"includeDisabled", true},
                   {"compact", true},
                   {"includeDeliveryPreviews", false},
                   {"limit", 200},
                   {"offset", offset}};
    json payload = LOB_TRY(s.request("cron.list", std::move(params), deadline));
    CronListPage page = LOB_TRY(parse_cron_list(payload));
    for (CronJob& j : page.jobs) all.push_back(std::move(j));
    if (!page.next_offset) {
      s.close(deadline);
      return all;
    }
    if (*page.next_offset <= offset) {
      return make_error(ErrorCode::kProtocolError, "cron.list paging did not advance");
    }
    offset = *page.next_offset;
  }
  return make_error(ErrorCode::kProtocolError, "cron.list returned more than {} pages",
                    kMaxCronPages);
}

Status GatewayClient::run_cron_job(std::string_view id, std::string_view mode, int timeout_ms) {
  (void)LOB_TRY(call("cron.run", json{{"id", id}, {"mode", mode}}, timeout_ms));
  return ok();
}

Result<int64_t> GatewayClient::last_heartbeat_ms(int timeout_ms) {
  json payload = LOB_TRY(call("last-heartbeat", json(), timeout_ms));
  return json_int(payload, "ts");
}

HeartbeatSchedule GatewayClient::heartbeat_schedule(const json& openclaw_config, int64_t now_ms,
                                                    int timeout_ms) {
  const std::optional<int64_t> interval = heartbeat_interval_from_config(openclaw_config);
  if (!interval)
    return {};
  auto last = last_heartbeat_ms(timeout_ms);
  return compute_heartbeat_schedule(interval, last ? *last : 0, now_ms);
}

Result<CronListPage> parse_cron_list(const json& payload) {
  if (!payload.is_object() || !payload.contains("jobs") || !payload["jobs"].is_array()) {
    return make_error(ErrorCode::kProtocolError, "cron.list payload has no jobs array");
  }
  CronListPage page;
  for (const json& j : payload["jobs"]) {
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      return make_error(ErrorCode::kProtocolError, "cron.list job without a string id");
    }
    CronJob job;
    job.id = j["id"].get<std::string>();
    job.name = j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty()
                   ? j["name"].get<std::string>()
                   : job.id;
    job.enabled =
        !(j.contains("enabled") && j["enabled"].is_boolean() && !j["enabled"].get<bool>());
    // Full view nests times under `state`; the compact view flattens them.
    const json& state = j.contains("state") && j["state"].is_object() ? j["state"] : j;
    job.next_run_at_ms = json_int(state, "nextRunAtMs");
    job.running_at_ms = json_int(state, "runningAtMs");
    job.schedule = j.contains("schedule") ? j["schedule"] : json();
    if (j.contains("declarationKey") && j["declarationKey"].is_string()) {
      job.declaration_key = j["declarationKey"].get<std::string>();
    }
    page.jobs.push_back(std::move(job));
  }
  if (payload.value("hasMore", false)) {
    auto it = payload.find("nextOffset");
    if (it == payload.end() || !it->is_number_integer()) {
      return make_error(ErrorCode::kProtocolError, "cron.list hasMore without nextOffset");
    }
    page.next_offset = it->get<int64_t>();
  }
  return page;
}

}  // namespace lobster::guest
