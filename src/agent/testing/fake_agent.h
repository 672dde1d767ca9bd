// FakeGuestAgent: a loopback TCP stand-in for lobster-init's agent, for tenant and health unit
// tests. It answers the request types the host uses from its state (responsive, gateway
// running, holds) and records every request type and inject-secrets payload, so tests check
// state.
// The same port serves the agent and the health port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

namespace lobster::agent::testing {

class FakeGuestAgent {
 public:
  FakeGuestAgent() {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Kernel ABI: sockaddr_in is a sockaddr for bind(2)/getsockname(2).
    (void)::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    (void)::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    (void)::listen(fd_.get(), 64);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeGuestAgent() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  FakeGuestAgent(const FakeGuestAgent&) = delete;
  FakeGuestAgent& operator=(const FakeGuestAgent&) = delete;

  uint16_t port() const { return port_; }

  std::atomic<bool> responsive{true};  // false: every connection is closed without a reply
  std::atomic<bool> gateway{true};     // a gateway process is running
  std::atomic<bool> can_launch{true};  // ensure-gateway succeeds

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

 private:
  void serve() {
    while (!stop_) {
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c)
        continue;
      std::string in;
      char buf[4096];
      while (in.find('\n') == std::string::npos) {
        ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0)
          break;
        in.append(buf, static_cast<size_t>(n));
      }
      if (!responsive)
        continue;
      nlohmann::json body = answer(nlohmann::json::parse(in, nullptr, false));
      if (!body.contains("error"))
        body["ok"] = true;  // lobster-init's framing: ok:true or error on every reply
      std::string reply = body.dump() + "\n";
      (void)::send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    }
  }

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

  UniqueFd fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<nlohmann::json> secrets_;
  std::set<std::string> holds_;
};

}  // namespace lobster::agent::testing
