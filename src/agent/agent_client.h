// Host-side client of the in-guest agent (lobster-init, protocol in src/guest/protocol.h and
// src/guest/dispatch.h). Used by tenant operations, health checks and the scheduler.
//
// Each call is one fresh TCP connection: write one JSON line, read one JSON line until the
// agent closes. Calls are poll-driven and bounded by a deadline, so a caller can run many at
// once (PendingCall) or block on one (AgentClient methods).
//
//   AgentClient agent({.host = "10.0.0.6"}, token);
//   LOB_TRY(agent.wait_for_agent(30'000));
//   Stats s = LOB_TRY(agent.get_stats());
//
//   // Many tenants at once:
//   std::vector<PendingCall> calls;  // one per tenant: client.start("get-active-connections")
//   run_all(calls);                  // then calls[i].take_result()
//
// Errors (every method):
//   kVsockConnectFailed  the agent is unreachable (refused, no route, connect timed out)
//   kExecTimeout         connected, but no complete reply before the deadline
//   kAgentUnauthorized   the agent rejected the token
//   kProtocolError       the reply is not one JSON object line, or lacks typed fields
//   kExecFailed          the agent answered {"error": ...} for another reason (message kept)
// The token is never part of an error message or log record.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::agent {

struct Endpoint {
  std::string host;  // numeric IPv4 (the guest IP)
  uint16_t agent_port = 52;
  uint16_t health_port = 53;
};

// Default per-method timeouts (spec §5.9).
inline constexpr int64_t kHealthTimeoutMs = 5'000;
inline constexpr int64_t kShortTimeoutMs = 3'000;
inline constexpr int64_t kDefaultTimeoutMs = 5'000;
inline constexpr int64_t kHeartbeatTimeoutMs = 10'000;
inline constexpr int64_t kPokeCronTimeoutMs = 15'000;

struct Stats {
  std::optional<int> gateway_pid;  // nullopt: no gateway running
  int64_t memory_kb = 0;           // gateway VmRSS
};

struct CronSchedule {
  std::string id;
  std::string name;
  int64_t next_run_at_ms = 0;
  nlohmann::json schedule;  // the job's schedule object or null
};

struct ActiveConnections {
  int tcp = 0;       // inbound clients of the gateway (:9000)
  int cron = 0;      // 1 while a cron job runs
  int hold = 0;      // unexpired guest-side holds
  int outbound = 0;  // connections the guest opened and keeps open (0 from older guests)
  int total() const { return tcp + cron + hold + outbound; }
};

struct HeartbeatSchedule {
  bool enabled = false;
  int64_t interval_ms = 0;
  int64_t next_beat_at_ms = 0;
};

struct GatewayStatus {
  bool launched = false;  // false: it was already running
  int pid = 0;
};

enum class LogService { kGateway, kAgent, kDropbear };

// One in-flight request (non-blocking connect, send, receive until EOF). Move-only.
class PendingCall {
 public:
  // Starts connecting. Fails only for a bad address or socket exhaustion; connection errors
  // surface through take_result().
  static Result<PendingCall> start(const std::string& host, uint16_t port, std::string method,
                                   std::string request_line, int64_t timeout_ms);

  int fd() const { return fd_.get(); }
  short poll_events() const;  // POLLOUT while connecting/sending, POLLIN while receiving
  int64_t deadline_ms() const { return deadline_ms_; }  // CLOCK_MONOTONIC ms
  bool done() const { return phase_ == Phase::kDone; }

  // Advances I/O after poll() reported `revents` (0 = just check the deadline).
  void advance(short revents);
  // The reply object after done() (errors as listed in the header comment).
  Result<nlohmann::json> take_result();

 private:
  enum class Phase { kConnecting, kSending, kReceiving, kDone };
  PendingCall() = default;
  void finish_with(Error e);
  void finish_reply();

  UniqueFd fd_;
  Phase phase_ = Phase::kConnecting;
  std::string method_;
  std::string out_;
  size_t out_off_ = 0;
  std::string in_;
  int64_t deadline_ms_ = 0;
  std::optional<Result<nlohmann::json>> result_;
};

// Drives every call to completion (each bounded by its own deadline).
void run_all(std::vector<PendingCall>& calls);

// Interprets one raw reply (everything read until EOF). Pure; exposed for tests.
Result<nlohmann::json> parse_reply(const std::string& method, std::string_view raw);

class AgentClient {
 public:
  AgentClient(Endpoint endpoint, std::string token)
      : endpoint_(std::move(endpoint)), token_(std::move(token)) {}

  // Starts `type` with extra request fields on the agent (or health) port.
  Result<PendingCall> start(const std::string& type,
                            nlohmann::json params = nlohmann::json::object(),
                            int64_t timeout_ms = kDefaultTimeoutMs, bool health_port = false) const;
  // start + run to completion.
  Result<nlohmann::json> call(const std::string& type, nlohmann::json params, int64_t timeout_ms,
                              bool health_port = false) const;

  // Retries health-ping (each try bounded by per_try_ms) until it answers or overall_ms passes.
  // kAgentUnauthorized is returned at once (retrying cannot fix a wrong token). `keep_waiting`,
  // when given, runs before every try; its error ends the wait (e.g. "the VM exited").
  Status wait_for_agent(int64_t overall_ms, int64_t per_try_ms = 3'000, int64_t retry_ms = 500,
                        const std::function<Status()>& keep_waiting = {}) const;

  Status health_ping(int64_t timeout_ms = kHealthTimeoutMs) const;
  Status inject_secrets(const nlohmann::json& secrets,
                        int64_t timeout_ms = kDefaultTimeoutMs) const;
  Result<GatewayStatus> ensure_gateway(int64_t timeout_ms = kDefaultTimeoutMs) const;
  Result<Stats> get_stats(int64_t timeout_ms = kShortTimeoutMs) const;
  Result<std::string> get_logs(LogService service, int64_t timeout_ms = kDefaultTimeoutMs) const;
  Status set_time(int64_t timestamp_ms, int64_t timeout_ms = kShortTimeoutMs) const;
  Result<std::vector<CronSchedule>> get_cron_schedules(
      int64_t timeout_ms = kDefaultTimeoutMs) const;
  // Returns how many cron jobs were re-armed.
  Result<int> poke_cron(int64_t timeout_ms = kPokeCronTimeoutMs) const;
  Result<HeartbeatSchedule> get_heartbeat_schedule(int64_t timeout_ms = kHeartbeatTimeoutMs) const;
  Result<ActiveConnections> get_active_connections(int64_t timeout_ms = kShortTimeoutMs) const;
  Status hold_acquire(const std::string& hold_id, int64_t ttl_ms,
                      int64_t timeout_ms = kShortTimeoutMs) const;
  // True if the hold existed.
  Result<bool> hold_release(const std::string& hold_id, int64_t timeout_ms = kShortTimeoutMs) const;
  Status shutdown(int64_t timeout_ms = kShortTimeoutMs) const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Endpoint endpoint_;
  std::string token_;
};

}  // namespace lobster::agent
