// FakeGuestAgent: a loopback TCP stand-in for lobster-init's agent, for tenant and health unit
// tests. It answers the request types the host uses from its state (responsive, gateway
// running, holds) and records every request type and inject-secrets payload, so tests check
// state.
// The same port serves the agent and the health port.
#pragma once

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/testing/loopback_server.h"

namespace lobster::agent::testing {

class FakeGuestAgent {
 public:
  FakeGuestAgent()
      : server_("\n", [this](const std::string& in) -> std::optional<std::string> {
          if (!responsive)
            return std::nullopt;
          nlohmann::json body = answer(nlohmann::json::parse(in, nullptr, false));
          if (!body.contains("error"))
            body["ok"] = true;  // lobster-init's framing: ok:true or error on every reply
          return body.dump() + "\n";
        }) {}
  FakeGuestAgent(const FakeGuestAgent&) = delete;
  FakeGuestAgent& operator=(const FakeGuestAgent&) = delete;

  uint16_t port() const { return server_.port(); }

  std::atomic<bool> responsive{true};        // false: every connection is closed without a reply
  std::atomic<bool> gateway{true};           // a gateway process is running
  std::atomic<bool> can_launch{true};        // ensure-gateway succeeds
  std::atomic<int> inbound{0};               // get-active-connections "tcp"
  std::atomic<int> cron_running{0};          // get-active-connections "cron"
  std::atomic<int> outbound{0};              // get-active-connections "outbound"
  std::atomic<int64_t> cron_next_run_ms{0};  // > 0: one cron job due then

  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<nlohmann::json> secrets() const {
    std::lock_guard lock(mu_);
    return secrets_;
  }
  std::set<std::string> holds() const {
    std::lock_guard lock(mu_);
    return holds_;
  }
  // The guest's holds expire on its own clock, which this fake does not have.
  void expire_holds() {
    std::lock_guard lock(mu_);
    holds_.clear();
  }

 private:
  nlohmann::json answer(const nlohmann::json& req) {
    if (!req.is_object())
      return {{"error", "bad request"}};
    std::string type = req.value("type", "");
    std::lock_guard lock(mu_);
    requests_.push_back(type);
    if (type == "health-ping")
      return {{"reply", "PONG"}};
    if (type == "get-stats") {
      return {{"gatewayPid", gateway ? nlohmann::json(4242) : nlohmann::json(nullptr)},
              {"memoryKb", 1024}};
    }
    if (type == "ensure-gateway") {
      if (!can_launch)
        return {{"error", "gateway failed to start"}};
      bool launched = !gateway;
      gateway = true;
      return {{"status", launched ? "launched" : "already-running"}, {"pid", 4242}};
    }
    if (type == "inject-secrets") {
      secrets_.push_back(req.value("secrets", nlohmann::json()));
      return {{"reply", "ACK"}};
    }
    if (type == "set-time")
      return {{"ok", true}};
    if (type == "poke-cron")
      return {{"deferred", 0}};
    if (type == "get-active-connections") {
      return {{"tcp", inbound.load()},
              {"cron", cron_running.load()},
              {"hold", holds_.size()},
              {"outbound", outbound.load()}};
    }
    if (type == "get-cron-schedules") {
      nlohmann::json list = nlohmann::json::array();
      if (cron_next_run_ms > 0)
        list.push_back({{"id", "job1"}, {"nextRunAtMs", cron_next_run_ms.load()}});
      return {{"schedules", list}};
    }
    if (type == "hold-acquire") {
      holds_.insert(req.value("holdId", ""));
      return {{"ok", true}};
    }
    if (type == "hold-release") {
      bool existed = holds_.erase(req.value("holdId", "")) > 0;
      return {{"ok", true}, {"released", existed}};
    }
    return {{"error", "unknown type " + type}};
  }

  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<nlohmann::json> secrets_;
  std::set<std::string> holds_;
  lobster::testing::LoopbackServer server_;  // last: its thread stops before the state goes
};

}  // namespace lobster::agent::testing
