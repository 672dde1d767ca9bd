// lobster-testgw: the minimal profile's stand-in for the OpenClaw gateway (guest contract).
// HTTP `GET /health` -> 200 {"ok":true}; `POST /echo` -> 200 {"sha256":"<hex of the body>",
// "bytes":N} (Content-Length bodies, bounded; proves bodies survive the ingress); a WebSocket echo
// on `/ws` that requires the gateway token as `Authorization: Bearer <token>` or `?token=<token>`
// (401 otherwise, compared in constant time); everything else 404. One thread per connection,
// bounded (503 beyond). Built for the host too, so its tests run under ASan; main.cc makes the
// static guest binary.
//
//   auto gw = LOB_TRY(TestGateway::create({.port = 9000, .token = token}));
//   std::thread t([&] { gw->serve(); });
//   ...
//   gw->stop();  t.join();
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::guest::testgw {

struct Options {
  std::string bind_address = "0.0.0.0";  // numeric IPv4
  uint16_t port = 9000;                  // 0 = pick a free port (tests)
  std::string token;                     // empty = every /ws request is refused (fail closed)
  int max_connections = 64;
  int header_timeout_ms = 10'000;
  int idle_timeout_ms = 300'000;  // an echo connection with no traffic for this long is closed
  size_t max_message = 1u << 20;
  size_t max_echo_body = 64u << 20;  // POST /echo bodies beyond this get 413
};

// Constant-time for a given expected length; false if `expected` is empty.
bool token_matches(std::string_view expected, std::string_view given);

class TestGateway {
 public:
  // Binds and listens (kIoFailed / kBuoyAlreadyRunning-like bind errors as kIoFailed).
  static Result<std::unique_ptr<TestGateway>> create(Options options);
  ~TestGateway();
  TestGateway(const TestGateway&) = delete;
  TestGateway& operator=(const TestGateway&) = delete;

  uint16_t port() const { return port_; }
  // Accepts connections until stop(); returns after all connection threads have finished.
  void serve();
  // Thread-safe; makes serve() return promptly (open connections are shut down).
  void stop();
  int active_connections() const { return active_.load(); }

 private:
  TestGateway(Options options, UniqueFd listen_fd, UniqueFd stop_fd, uint16_t port);
  void handle(int id, UniqueFd fd);
  void reap_finished();
  void shutdown_all();

  Options options_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd
  uint16_t port_;
  std::atomic<int> active_{0};
  std::mutex mu_;
  std::map<int, std::thread> workers_;  // guarded by mu_
  std::map<int, int> worker_fds_;       // guarded by mu_: id -> socket, for shutdown
  std::vector<int> finished_;           // guarded by mu_
  int next_id_ = 0;
};

}  // namespace lobster::guest::testgw
