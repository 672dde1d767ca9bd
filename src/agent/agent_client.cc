#include "agent/agent_client.h"

#include <time.h>

namespace lobster::agent {
namespace {

using nlohmann::json;

std::unexpected<Error> missing(const std::string& method, const char* field) {
  return make_error(ErrorCode::kProtocolError, "agent {}: reply lacks a valid '{}'", method, field);
}

Result<int64_t> int_field(const json& j, const std::string& method, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) {
    return missing(method, key);
  }
  if (it->is_number_float()) {
    return static_cast<int64_t>(it->get<double>());
  }
  return it->get<int64_t>();
}

// A count reported by the guest (hostile input): an integer in 0..kMaxCount.
Result<int> count_field(const json& j, const std::string& method, const char* key) {
  constexpr int64_t kMaxCount = 1'000'000;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return missing(method, key);
  }
  int64_t v = it->get<int64_t>();
  if (v < 0 || v > kMaxCount) {
    return make_error(ErrorCode::kProtocolError, "{}: {} out of range 0..{}: {}", method, key,
                      kMaxCount, v);
  }
  return static_cast<int>(v);
}

Result<bool> bool_field(const json& j, const std::string& method, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) {
    return missing(method, key);
  }
  return it->get<bool>();
}

const char* service_name(LogService s) {
  switch (s) {
    case LogService::kGateway:
      return "gateway";
    case LogService::kAgent:
      return "agent";
    case LogService::kDropbear:
      return "dropbear";
  }
  return "gateway";
}

void sleep_ms(int64_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int64_t mono_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Result<PendingCall> AgentClient::start(const std::string& type, json params, int64_t timeout_ms,
                                       bool health_port) const {
  json req = params.is_object() ? std::move(params) : json::object();
  req["type"] = type;
  req["token"] = token_;
  std::string line = req.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return PendingCall::start(endpoint_.host,
                            health_port ? endpoint_.health_port : endpoint_.agent_port, type,
                            std::move(line), timeout_ms);
}

Result<json> AgentClient::call(const std::string& type, json params, int64_t timeout_ms,
                               bool health_port) const {
  std::vector<PendingCall> calls;
  calls.push_back(LOB_TRY(start(type, std::move(params), timeout_ms, health_port)));
  run_all(calls);
  return calls[0].take_result();
}

Status AgentClient::wait_for_agent(int64_t overall_ms, int64_t per_try_ms, int64_t retry_ms,
                                   const std::function<Status()>& keep_waiting) const {
  int64_t deadline = mono_ms() + overall_ms;
  Error last{ErrorCode::kVsockConnectFailed, "agent: not reachable"};
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      Error e = last;
      e.message = fmt::format("agent at {} not ready after {} ms: {}", endpoint_.host, overall_ms,
                              last.message);
      if (e.code == ErrorCode::kExecTimeout) {
        e.code = ErrorCode::kVsockConnectFailed;
      }
      return make_error(std::move(e));
    }
    if (keep_waiting) {
      LOB_TRY(keep_waiting());
    }
    auto r = health_ping(left < per_try_ms ? left : per_try_ms);
    if (r) {
      return ok();
    }
    if (r.error().code == ErrorCode::kAgentUnauthorized) {
      return r;
    }
    last = r.error();
    int64_t pause = deadline - mono_ms();
    sleep_ms(pause < retry_ms ? (pause > 0 ? pause : 0) : retry_ms);
  }
}

Status AgentClient::health_ping(int64_t timeout_ms) const {
  json r = LOB_TRY(call("health-ping", json::object(), timeout_ms, /*health_port=*/true));
  auto it = r.find("reply");
  if (it == r.end() || *it != "PONG") {
    return missing("health-ping", "reply");
  }
  return ok();
}

Status AgentClient::inject_secrets(const json& secrets, int64_t timeout_ms) const {
  LOB_TRY(call("inject-secrets", json{{"secrets", secrets}}, timeout_ms));
  return ok();
}

Result<GatewayStatus> AgentClient::ensure_gateway(int64_t timeout_ms) const {
  const std::string m = "ensure-gateway";
  json r = LOB_TRY(call(m, json::object(), timeout_ms));
  auto status = r.find("status");
  if (status == r.end() || !status->is_string()) {
    return missing(m, "status");
  }
  GatewayStatus g;
  g.launched = *status == "launched";
  g.pid = static_cast<int>(LOB_TRY(int_field(r, m, "pid")));
  return g;
}

Result<Stats> AgentClient::get_stats(int64_t timeout_ms) const {
  const std::string m = "get-stats";
  json r = LOB_TRY(call(m, json::object(), timeout_ms));
  Stats s;
  auto pid = r.find("gatewayPid");
  if (pid == r.end()) {
    return missing(m, "gatewayPid");
  }
  if (pid->is_number_integer()) {
    s.gateway_pid = pid->get<int>();
  } else if (!pid->is_null()) {
    return missing(m, "gatewayPid");
  }
  s.memory_kb = LOB_TRY(int_field(r, m, "memoryKb"));
  return s;
}

Result<std::string> AgentClient::get_logs(LogService service, int64_t timeout_ms) const {
  json r = LOB_TRY(call("get-logs", json{{"service", service_name(service)}}, timeout_ms));
  auto logs = r.find("logs");
  if (logs == r.end() || !logs->is_string()) {
    return missing("get-logs", "logs");
  }
  return logs->get<std::string>();
}

Status AgentClient::set_time(int64_t timestamp_ms, int64_t timeout_ms) const {
  LOB_TRY(call("set-time", json{{"timestampMs", timestamp_ms}}, timeout_ms));
  return ok();
}

Result<std::vector<CronSchedule>> AgentClient::get_cron_schedules(int64_t timeout_ms) const {
  const std::string m = "get-cron-schedules";
  json r = LOB_TRY(call(m, json::object(), timeout_ms));
  auto list = r.find("schedules");
  if (list == r.end() || !list->is_array()) {
    return missing(m, "schedules");
  }
  std::vector<CronSchedule> out;
  for (const json& e : *list) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string()) {
      return missing(m, "schedules[].id");
    }
    CronSchedule c;
    c.id = e["id"].get<std::string>();
    c.name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : c.id;
    c.next_run_at_ms = LOB_TRY(int_field(e, m, "nextRunAtMs"));
    c.schedule = e.contains("schedule") ? e["schedule"] : json();
    out.push_back(std::move(c));
  }
  return out;
}

Result<int> AgentClient::poke_cron(int64_t timeout_ms) const {
  json r = LOB_TRY(call("poke-cron", json::object(), timeout_ms));
  return static_cast<int>(LOB_TRY(int_field(r, "poke-cron", "deferred")));
}

Result<HeartbeatSchedule> AgentClient::get_heartbeat_schedule(int64_t timeout_ms) const {
  const std::string m = "get-heartbeat-schedule";
  json r = LOB_TRY(call(m, json::object(), timeout_ms));
  HeartbeatSchedule h;
  h.enabled = LOB_TRY(bool_field(r, m, "enabled"));
  h.interval_ms = LOB_TRY(int_field(r, m, "intervalMs"));
  h.next_beat_at_ms = LOB_TRY(int_field(r, m, "nextBeatAtMs"));
  return h;
}

Result<ActiveConnections> AgentClient::get_active_connections(int64_t timeout_ms) const {
  const std::string m = "get-active-connections";
  json r = LOB_TRY(call(m, json::object(), timeout_ms));
  ActiveConnections a;
  a.tcp = LOB_TRY(count_field(r, m, "tcp"));
  a.cron = LOB_TRY(count_field(r, m, "cron"));
  a.hold = LOB_TRY(count_field(r, m, "hold"));
  if (r.contains("outbound"))  // guests older than the field do not send it
    a.outbound = LOB_TRY(count_field(r, m, "outbound"));
  return a;
}

Status AgentClient::hold_acquire(const std::string& hold_id, int64_t ttl_ms,
                                 int64_t timeout_ms) const {
  LOB_TRY(call("hold-acquire", json{{"holdId", hold_id}, {"ttlMs", ttl_ms}}, timeout_ms));
  return ok();
}

Result<bool> AgentClient::hold_release(const std::string& hold_id, int64_t timeout_ms) const {
  json r = LOB_TRY(call("hold-release", json{{"holdId", hold_id}}, timeout_ms));
  return LOB_TRY(bool_field(r, "hold-release", "released"));
}

Status AgentClient::shutdown(int64_t timeout_ms) const {
  LOB_TRY(call("shutdown", json::object(), timeout_ms));
  return ok();
}

}  // namespace lobster::agent
