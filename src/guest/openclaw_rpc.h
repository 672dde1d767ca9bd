// OpenClaw gateway RPC client (guest side), used by lobster-init for the cron and heartbeat
// agent methods (spec §7.3 "Gateway RPC client", §9.1).
//
// One call = one WebSocket connection to the gateway (ws://127.0.0.1:9000 by default):
// wait for the `connect.challenge` event, send `connect` (token auth + Ed25519 device
// identity), then send the real request and return its payload. Everything is synchronous and
// bounded by one deadline covering connect, handshake and the request.
//
//   auto id = LOB_TRY(DeviceIdentity::generate());
//   GatewayClient gw({.port = 9000, .token = gateway_token}, std::move(id));
//   auto jobs = LOB_TRY(gw.list_cron_jobs(10'000));
//   for (const CronJob& j : jobs) if (j.enabled && j.next_run_at_ms > 0) ...
//
// What OpenClaw 2026.9.6 really requires (read from its dist/, verified by
// tests/e2e/openclaw against a real gateway; the spec describes an older version):
//  * Frames are JSON text messages: {"type":"req","id","method","params"?},
//    {"type":"res","id","ok","payload"?,"error"?:{code,message,retryable?,retryAfterMs?}},
//    {"type":"event","event","payload"?}. All schemas are closed objects (no extra keys).
//  * The server speaks first: event "connect.challenge" {nonce, ts}. The first request must be
//    "connect" with minProtocol/maxProtocol 4 (3 is rejected as a protocol mismatch unless
//    the client is a node or a probe).
//  * client.id must be on the allow-list (gateway-client, cli, openclaw-probe, ...);
//    gateway-client + mode backend + shared token from loopback skips device pairing.
//  * The device proof signs "v3|..." or "v2|..." (see device_auth_payload_v3) INCLUDING the
//    challenge nonce; "v1" (no nonce, as in the spec) is no longer accepted. device.id must
//    equal sha256(raw public key) and |now - signedAt| <= 120 s.
//  * While its sidecars load (~10-20 s after /health is up) the gateway rejects connect with
//    UNAVAILABLE retryable + retryAfterMs; Session retries those until the deadline.
//  * cron.list is paged (limit <= 200, hasMore/nextOffset); with compact:true times are
//    top-level (nextRunAtMs, runningAtMs), otherwise under `state`. last-heartbeat returns
//    null or {ts, ...}.
//
// Errors: kGatewayUnavailable (connect refused/unreachable), kExecTimeout (deadline passed),
// kGatewayRpcFailed (the gateway answered ok:false: bad token, unknown method, bad params),
// kProtocolError (malformed frames or JSON). The token never appears in error messages.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::guest {

// Where the gateway listens and how to authenticate to it.
struct RpcTarget {
  std::string host = "127.0.0.1";  // numeric IPv4 address
  uint16_t port = 9000;
  std::string path = "/";
  std::string token;  // gateway token (OPENCLAW_GATEWAY_TOKEN); never logged
};

// The Ed25519 "device" identity the client presents in `connect`. Generated in memory at
// startup (spec §7.3); device id = lowercase hex SHA-256 of the raw 32-byte public key.
class DeviceIdentity {
 public:
  DeviceIdentity(DeviceIdentity&&) noexcept = default;
  DeviceIdentity& operator=(DeviceIdentity&&) noexcept = default;
  DeviceIdentity(const DeviceIdentity&) = delete;
  DeviceIdentity& operator=(const DeviceIdentity&) = delete;
  ~DeviceIdentity();

  // A fresh random keypair (libsodium).
  static Result<DeviceIdentity> generate();
  // Deterministic keypair from a 32-byte seed (tests, reproducible signatures).
  static Result<DeviceIdentity> from_seed(std::span<const uint8_t, 32> seed);

  const std::string& device_id() const { return device_id_; }
  // Raw public key, base64url without padding (the wire format OpenClaw expects).
  std::string public_key_base64url() const;
  // Detached Ed25519 signature over `payload`, base64url without padding.
  std::string sign_base64url(std::string_view payload) const;

 private:
  DeviceIdentity() = default;
  std::array<uint8_t, 32> public_key_{};
  std::array<uint8_t, 64> secret_key_{};
  std::string device_id_;
};

// A cron job as reported by `cron.list` (only the fields lobster-init needs).
struct CronJob {
  std::string id;
  std::string name;            // falls back to id when the job has no name
  bool enabled = true;         // `enabled !== false`
  int64_t next_run_at_ms = 0;  // state.nextRunAtMs, 0 if absent
  int64_t running_at_ms = 0;   // state.runningAtMs, 0 if not running
  nlohmann::json schedule;     // the job's schedule object, or null
  // Set for gateway-owned jobs; OpenClaw 2026.9 runs each agent's heartbeat as the cron job
  // "heartbeat:<agentId>", so its next_run_at_ms is the gateway's own next beat.
  std::string declaration_key;
};

struct HeartbeatSchedule {
  bool enabled = false;
  int64_t interval_ms = 0;
  int64_t next_beat_at_ms = 0;
};

// Thread-safe: every call opens its own connection and the identity is only read.
class GatewayClient {
 public:
  GatewayClient(RpcTarget target, DeviceIdentity identity);

  // Connects, authenticates and performs one request; returns the response payload
  // (`payload` of the response frame, null if absent). `timeout_ms` bounds the whole call.
  Result<nlohmann::json> call(std::string_view method, nlohmann::json params, int timeout_ms);

  // `cron.list` (including disabled jobs), parsed.
  Result<std::vector<CronJob>> list_cron_jobs(int timeout_ms);
  // `cron.run {id, mode}`; mode "due" runs it only if due (safety net after a restore).
  Status run_cron_job(std::string_view id, std::string_view mode, int timeout_ms);
  // Timestamp (ms) of the last heartbeat run from `last-heartbeat`; 0 if there was none.
  Result<int64_t> last_heartbeat_ms(int timeout_ms);
  // get-heartbeat-schedule (spec §7.3): interval from `openclaw_config` (disabled if none),
  // last beat from `last-heartbeat` (treated as "no beat yet" if that RPC fails or times out),
  // projected with compute_heartbeat_schedule. Never fails.
  HeartbeatSchedule heartbeat_schedule(const nlohmann::json& openclaw_config, int64_t now_ms,
                                       int timeout_ms);

  const RpcTarget& target() const { return target_; }

 private:
  RpcTarget target_;
  DeviceIdentity identity_;
};

// Parses one `cron.list` page: `{"jobs":[...], "hasMore":bool, "nextOffset":N}` (pure).
struct CronListPage {
  std::vector<CronJob> jobs;
  std::optional<int64_t> next_offset;  // set only when hasMore
};
Result<CronListPage> parse_cron_list(const nlohmann::json& payload);

// ---- Handshake pieces (pure; exposed for tests) ----------------------------------------

// What the client says about itself in `connect`. The client id must be on OpenClaw's
// allow-list (GATEWAY_CLIENT_IDS); "gateway-client" + "backend" from loopback with the shared
// token is what OpenClaw treats as a local backend (no pairing round trip).
inline constexpr std::string_view kClientId = "gateway-client";
inline constexpr std::string_view kClientMode = "backend";
inline constexpr std::string_view kClientPlatform = "linux";
inline constexpr std::string_view kRole = "operator";
inline constexpr std::string_view kScope = "operator.admin";
inline constexpr int kProtocolVersion = 4;

struct ConnectChallenge {
  std::string nonce;
  int64_t ts_ms = 0;  // server clock; 0 if absent
};

// Extracts the challenge from a `{"type":"event","event":"connect.challenge"}` frame.
Result<ConnectChallenge> parse_connect_challenge(const nlohmann::json& frame);

// The v3 device-auth payload OpenClaw verifies (it also accepts v2, which lacks the last two
// fields): "v3|deviceId|clientId|mode|role|scopes,comma,joined|signedAtMs|token|nonce|
// platform|deviceFamily", platform/deviceFamily trimmed and ASCII-lowercased.
std::string device_auth_payload_v3(std::string_view device_id, std::string_view token,
                                   std::string_view nonce, int64_t signed_at_ms);

// The complete `connect` params (protocol 4, client info, role, scopes, token auth and the
// signed device proof). signedAt is the challenge's server timestamp when present, so a guest
// whose clock lags after a restore still passes OpenClaw's ±2 min skew check.
nlohmann::json build_connect_params(const DeviceIdentity& identity, std::string_view token,
                                    const ConnectChallenge& challenge, int64_t now_ms);

// ---- Heartbeat schedule (pure functions) ------------------------------------------------

// Parses a heartbeat interval the way OpenClaw 2026.9 does (parseDurationMs with default unit
// "m"): trimmed, case-insensitive, `<n>[.<frac>][ms|s|m|h|d]` or a composite such as
// "1h30m" (every segment needs a unit), rounded to whole ms. nullopt if invalid or not > 0
// (OpenClaw then runs no heartbeat). The spec's grammar (s|m|h) is a subset.
std::optional<int64_t> parse_heartbeat_every(std::string_view every);

// Projects the next heartbeat: last + interval, or now + interval if there was no beat;
// if that is not strictly after now, the first point last + k*interval > now (fixes spec §16
// item 24: the original returned next == now on exact multiples).
HeartbeatSchedule compute_heartbeat_schedule(std::optional<int64_t> interval_ms,
                                             int64_t last_beat_ms, int64_t now_ms);

// Reads the interval from a parsed openclaw.json: nullopt if `agents.defaults.heartbeat` is
// absent (no heartbeat configured) or its `every` is invalid; OpenClaw's default "30m" when
// the heartbeat section exists without `every`. Per-agent overrides are not considered.
std::optional<int64_t> heartbeat_interval_from_config(const nlohmann::json& openclaw_config);

}  // namespace lobster::guest
