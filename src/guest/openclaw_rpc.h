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
};

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

 private:
  RpcTarget target_;
  DeviceIdentity identity_;
};

// Parses the `cron.list` payload (pure; exposed for tests).
Result<std::vector<CronJob>> parse_cron_list(const nlohmann::json& payload);

// ---- Heartbeat schedule (pure functions) ------------------------------------------------

// Parses `agents.defaults.heartbeat.every`: `<number>[.<frac>]`, optional spaces, then a unit
// `s|m|h` (spec §7.3). Returns the interval in ms, or nullopt if the format is anything else
// or the interval is not positive.
std::optional<int64_t> parse_heartbeat_every(std::string_view every);

struct HeartbeatSchedule {
  bool enabled = false;
  int64_t interval_ms = 0;
  int64_t next_beat_at_ms = 0;
};

// Projects the next heartbeat: last + interval, or now + interval if there was no beat;
// if that is not strictly after now, the first point last + k*interval > now (fixes spec §16
// item 24: the original returned next == now on exact multiples).
HeartbeatSchedule compute_heartbeat_schedule(std::optional<int64_t> interval_ms,
                                             int64_t last_beat_ms, int64_t now_ms);

// Reads the interval from a parsed openclaw.json (nullopt if absent or invalid).
std::optional<int64_t> heartbeat_interval_from_config(const nlohmann::json& openclaw_config);

}  // namespace lobster::guest
