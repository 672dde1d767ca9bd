// IngressServer: lobsterd's router between Caddy and the tenants' gateways (DESIGN.md
// "Ingress"). It runs in its own long-lived process (`lobsterd ingress`, started and
// supervised by the daemon like Caddy), so a daemon restart or kill -9 drops no connection.
//
// Per connection on the listen socket: read the first request head (bounded by
// max_head_bytes and head_timeout_ms), route it by Host (head.h), then
//  * active tenant: connect to <guest>:<gateway port>, replay the bytes read so far and relay
//    both ways without parsing (splice(2) through a pipe; plain copy where splice refuses);
//  * suspended tenant: hold the connection and wake the tenant: one resume per tenant however
//    many connections wait (the Waker retries while the daemon is down), then relay;
//  * bounded waits: at most max_waiting_per_tenant held connections per tenant and
//    wake_timeout_ms per connection, else 503 + Retry-After; unknown tenant 404; malformed or
//    oversized head or missing Host 400; slow head 408. Bodies are api::error_body JSON.
// Per tenant it counts connections, bytes both ways and the last client activity
// (activity.h), served with a liveness probe on the control socket:
//   GET /v1/ping -> {"ok":true,"pid":..,"domain":..,"settings":settings_json()}    GET /v1/activity
//   -> activity.h JSON
// and, with ask_port set, Caddy's on-demand TLS question on loopback TCP (GET /v1/ask).
//
//   IngressServer::create(options, directory, waker) then serve() on its own thread; stop()
//   from any thread ends serve() after every connection thread has finished.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "core/unique_fd.h"
#include "ingress/activity.h"
#include "store/types.h"

namespace lobster::ingress {

// Where a tenant's gateway is and whether it runs. The real one reads the SQLite store
// (read-only queries, so it keeps working while the daemon is down).
struct TenantTarget {
  store::TenantStatus status = store::TenantStatus::kActive;
  std::string address;  // numeric IPv4 of the guest
};
class TenantDirectory {
 public:
  virtual ~TenantDirectory() = default;
  // Errors: kTenantNotFound; anything else is treated as transient (retried while waiting).
  virtual Result<TenantTarget> lookup(const std::string& tenant) = 0;
};

// Asks the daemon to resume a suspended tenant (the real one: POST
// /v1/tenants/{name}/resume on the daemon's API socket).
class Waker {
 public:
  virtual ~Waker() = default;
  // Returns once the tenant is resumed. Errors: kDaemonNotRunning (retried until the wake
  // deadline), kResumeFailed / kInvalidState (the tenant moved on; re-checked), others.
  virtual Status resume(const std::string& tenant, int timeout_ms) = 0;
};

struct IngressOptions {
  std::string listen_socket;   // Caddy's upstream (Unix socket, 0600)
  std::string control_socket;  // ping + activity (Unix socket, 0600)
  std::string domain = "lobster.localhost";
  uint16_t gateway_port = 9000;
  int64_t wake_timeout_ms = 30'000;  // ingress.wakeTimeoutMs
  int64_t max_waiting_per_tenant = 64;
  int64_t head_timeout_ms = 10'000;
  size_t max_head_bytes = 16 * 1024;
  int64_t connect_timeout_ms = 3'000;  // to an active tenant's gateway
  int64_t max_connections = 4096;
  int64_t retry_after_s = 5;
  // > 0: also serve Caddy's on-demand TLS `ask` on 127.0.0.1:<ask_port> (GET /v1/ask?domain=
  // <host> -> 200 for a host of an existing tenant, else 404); nothing else is served there.
  int64_t ask_port = 0;
};

// What an ingress was started with, as its ping reports it ("settings"): the daemon restarts
// an adopted ingress whose settings differ from the config's (a new domain, say).
nlohmann::json settings_json(const IngressOptions& options);

class IngressServer {
 public:
  // Binds both sockets (an existing socket file is replaced). Errors: kIoFailed.
  static Result<std::unique_ptr<IngressServer>> create(IngressOptions options,
                                                       TenantDirectory& directory, Waker& waker,
                                                       const Clock& clock);
  ~IngressServer();
  IngressServer(const IngressServer&) = delete;
  IngressServer& operator=(const IngressServer&) = delete;

  void serve();
  void stop();
  ActivityReport activity() const;

  struct Counters;  // per tenant, atomics (server.cc)
  struct Wake;      // one wake in progress for a tenant (wake.cc)

 private:
  IngressServer(IngressOptions options, TenantDirectory& directory, Waker& waker,
                const Clock& clock);
  void handle_client(UniqueFd fd);
  // `ask_only`: the loopback TCP listener, which answers nothing but /v1/ask.
  void handle_control(UniqueFd fd, bool ask_only);
  // Ok when `tenant` is active, else the error to answer with (503 / 404).
  Status await_active(const std::string& tenant, Counters& counters, int64_t deadline_ms);
  void run_wake(const std::string& tenant, std::shared_ptr<Wake> wake, Counters& counters);
  // The tenant's counters with this connection counted as open (and as client activity).
  Counters& open_counters(const std::string& tenant);
  // Drops the counters of idle tenants the directory no longer knows (evicted).
  void prune_counters();
  bool sleep_ms(int64_t ms);  // false when stopping
  void track(int fd, bool add);

  IngressOptions options_;
  TenantDirectory& directory_;
  Waker& waker_;
  const Clock& clock_;
  int64_t started_ms_ = 0;
  UniqueFd listen_fd_, control_fd_, ask_fd_, stop_fd_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;  // wake results, thread exits, stop
  std::map<std::string, std::unique_ptr<Counters>> counters_;
  std::map<std::string, std::shared_ptr<Wake>> wakes_;
  std::set<int> open_fds_;  // client sockets, shut down on stop()
  int64_t threads_ = 0;
};

}  // namespace lobster::ingress
