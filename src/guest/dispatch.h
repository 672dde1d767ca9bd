// Agent method dispatch: authenticates one framed request and routes it to an AgentBackend.
// Host-buildable (no guest syscalls) so the protocol is unit-tested and fuzzed under ASan.
//
//   Dispatcher d(config.agent_token, backend);
//   d.dispatch(framer.line(), Port::kAgent, [&](nlohmann::json reply) { send(reply); });
//
// Methods (request "type"; every request also carries "token"). Replies are JSON objects;
// errors are {"error":"..."} (see protocol.h).
//   health-ping                         {"ok":true,"reply":"PONG"}         (also on port 53)
//   inject-secrets {secrets:{..}}       {"ok":true,"reply":"ACK"}
//       secrets keys: OPENCLAW_GATEWAY_TOKEN, SSH_AUTHORIZED_KEY, OPENCLAW_CONFIG (object or
//       JSON text, merged into openclaw.json as an RFC 7386 patch); unknown keys are kept in
//       memory only.
//   launch-openclaw | ensure-gateway    {"ok":true,"status":"already-running"|"launched","pid":N}
//                                       or {"error":"No gateway token available"}
//   get-stats                           {"ok":true,"gatewayPid":N|null,"memoryKb":N}
//   get-logs {service?}                 {"ok":true,"service":S,"logs":"<last 4000 chars>"}
//       service: gateway (default) | agent | dropbear
//   set-time {timestampMs>0}            {"ok":true}
//   get-cron-schedules                  {"ok":true,"schedules":[{"id","name","nextRunAtMs",
//                                        "schedule"}]}
//   poke-cron                           {"ok":true,"deferred":N}
//   get-heartbeat-schedule              {"ok":true,"enabled":B,"intervalMs":N,"nextBeatAtMs":N}
//   get-active-connections              {"ok":true,"tcp":N,"cron":0|1,"hold":N}
//   hold-acquire {holdId,ttlMs>0}       {"ok":true}
//   hold-release {holdId}               {"ok":true,"released":B}
//   shutdown                            {"ok":true,"reply":"ACK"} then the guest powers off
//   anything else                       {"error":"unknown method: <type>"}
// On port 53 every method except health-ping gets {"error":"method not allowed on port 53"}.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lobster::guest {

enum class Port { kAgent, kHealth };
enum class LogService { kGateway, kAgent, kDropbear };

std::string_view log_service_name(LogService s);

// Completes a request. Called exactly once, on the event-loop thread.
using ReplyFn = std::function<void(nlohmann::json)>;

// What lobster-init does for each method. Parameters arrive validated. Methods returning a
// json reply complete synchronously; the ReplyFn ones may complete later (gateway RPC).
class AgentBackend {
 public:
  virtual ~AgentBackend() = default;
  virtual nlohmann::json inject_secrets(const nlohmann::json& secrets) = 0;
  virtual nlohmann::json ensure_gateway() = 0;
  virtual nlohmann::json get_stats() = 0;
  virtual nlohmann::json get_logs(LogService service) = 0;
  virtual nlohmann::json set_time(int64_t timestamp_ms) = 0;
  virtual void get_cron_schedules(ReplyFn done) = 0;
  virtual void poke_cron(ReplyFn done) = 0;
  virtual void get_heartbeat_schedule(ReplyFn done) = 0;
  virtual void get_active_connections(ReplyFn done) = 0;
  virtual nlohmann::json hold_acquire(const std::string& hold_id, int64_t ttl_ms) = 0;
  virtual nlohmann::json hold_release(const std::string& hold_id) = 0;
  virtual nlohmann::json shutdown() = 0;
};

class Dispatcher {
 public:
  // An empty token means "not configured": every request is unauthorized (fail closed).
  Dispatcher(std::string agent_token, AgentBackend& backend)
      : token_(std::move(agent_token)), backend_(backend) {}

  // Parses, authenticates and routes one request line (without '\n'). `done` is called once.
  void dispatch(std::string_view line, Port port, ReplyFn done);

  void set_token(std::string token) { token_ = std::move(token); }

 private:
  void route(const std::string& type, const nlohmann::json& req, ReplyFn& done);

  std::string token_;
  AgentBackend& backend_;
};

}  // namespace lobster::guest
