// FakeBackend: an in-memory AgentBackend for protocol, server and client tests. It keeps state
// (secrets, gateway pid, holds, clock, cron jobs) so tests check results, not call sequences.
// Deferred methods complete synchronously unless `defer` is set, in which case they are
// completed later through `complete_deferred()` (simulating the gateway RPC worker).
#pragma once

#include <deque>
#include <string>

#include "guest/dispatch.h"
#include "guest/holds.h"

namespace lobster::guest::testing {

class FakeBackend final : public AgentBackend {
 public:
  nlohmann::json inject_secrets(const nlohmann::json& incoming) override {
    for (const auto& [k, v] : incoming.items()) {
      secrets[k] = v;
    }
    return {{"ok", true}, {"reply", "ACK"}};
  }
  nlohmann::json ensure_gateway() override {
    if (!secrets.contains("OPENCLAW_GATEWAY_TOKEN")) {
      return {{"error", "No gateway token available"}};
    }
    if (gateway_pid != 0) {
      return {{"ok", true}, {"status", "already-running"}, {"pid", gateway_pid}};
    }
    gateway_pid = 4242;
    return {{"ok", true}, {"status", "launched"}, {"pid", gateway_pid}};
  }
  nlohmann::json get_stats() override {
    nlohmann::json pid = gateway_pid != 0 ? nlohmann::json(gateway_pid) : nlohmann::json();
    return {{"ok", true}, {"gatewayPid", pid}, {"memoryKb", gateway_pid != 0 ? 12345 : 0}};
  }
  nlohmann::json get_logs(LogService service) override {
    return {{"ok", true},
            {"service", std::string(log_service_name(service))},
            {"logs", "log of " + std::string(log_service_name(service))}};
  }
  nlohmann::json set_time(int64_t timestamp_ms) override {
    now_ms = timestamp_ms;
    return {{"ok", true}};
  }
  void get_cron_schedules(ReplyFn done) override {
    finish(std::move(done), {{"ok", true},
                             {"schedules",
                              {{{"id", "job1"},
                                {"name", "daily"},
                                {"nextRunAtMs", now_ms + 60'000},
                                {"schedule", {{"kind", "cron"}, {"expr", "0 9 * * *"}}}}}}});
  }
  void poke_cron(ReplyFn done) override {
    if (gateway_pid == 0) {
      finish(std::move(done), {{"error", "Gateway not running"}});
      return;
    }
    finish(std::move(done), {{"ok", true}, {"deferred", 1}});
  }
  void get_heartbeat_schedule(ReplyFn done) override {
    finish(std::move(done), {{"ok", true},
                             {"enabled", true},
                             {"intervalMs", 1'800'000},
                             {"nextBeatAtMs", now_ms + 1'800'000}});
  }
  void get_active_connections(ReplyFn done) override {
    finish(std::move(done), {{"ok", true}, {"tcp", 2}, {"cron", 0}, {"hold", holds.count(now_ms)}});
  }
  nlohmann::json hold_acquire(const std::string& hold_id, int64_t ttl_ms) override {
    if (!holds.acquire(hold_id, ttl_ms, now_ms)) {
      return {{"error", "Too many holds"}};
    }
    return {{"ok", true}};
  }
  nlohmann::json hold_release(const std::string& hold_id) override {
    return {{"ok", true}, {"released", holds.release(hold_id)}};
  }
  nlohmann::json shutdown() override {
    shutdown_requested = true;
    return {{"ok", true}, {"reply", "ACK"}};
  }

  // Completes every deferred reply (in order).
  void complete_deferred() {
    while (!pending.empty()) {
      auto [fn, reply] = std::move(pending.front());
      pending.pop_front();
      fn(std::move(reply));
    }
  }

  nlohmann::json secrets = nlohmann::json::object();
  int gateway_pid = 0;
  int64_t now_ms = 1'700'000'000'000;
  HoldTable holds;
  bool shutdown_requested = false;
  bool defer = false;
  std::deque<std::pair<ReplyFn, nlohmann::json>> pending;

 private:
  void finish(ReplyFn done, nlohmann::json reply) {
    if (defer) {
      pending.emplace_back(std::move(done), std::move(reply));
    } else {
      done(std::move(reply));
    }
  }
};

}  // namespace lobster::guest::testing
