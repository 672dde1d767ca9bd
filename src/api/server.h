// ApiServer: REST/JSON over HTTP/1.1 on the daemon's Unix socket (Boost.Beast on one Asio
// thread). Every request is authorized by the peer's SO_PEERCRED (api/auth.h) before routing.
//
//   auto server = LOB_TRY(ApiServer::create(router, {.socket_path = paths.api_socket()}));
//   ready();                      // the socket accepts connections from here on
//   LOB_TRY(server->run());       // returns after SIGTERM/SIGINT (or stop()), socket removed
//
// Sockets are served by one I/O thread; handlers run on a pool of worker_threads, so they may
// run concurrently (ApiContext members must be thread-safe) and a slow one blocks only its own
// connection. On stop, a handler still running delays run()'s return until it finishes: long
// operations should be cancellable or run as jobs.
#pragma once

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/router.h"
#include "core/error.h"

namespace lobster::api {

struct ServerOptions {
  std::string socket_path;
  std::string group = kApiGroup;  // socket group (if it exists) and the authorized group
  std::string proc_root = "/proc";
  int64_t idle_timeout_ms = 30'000;   // an idle keep-alive connection is closed after this
  int64_t shutdown_grace_ms = 1'500;  // in-flight replies get this long after a stop signal
  size_t body_limit = 1 << 20;        // larger request bodies get 422 VALIDATION_FAILED
  size_t worker_threads = 8;          // handler concurrency
  std::vector<int> stop_signals = {SIGTERM, SIGINT};
};

class ApiServer {
 public:
  // Binds the socket (a stale socket file is replaced: the caller must hold the daemon's pid
  // lock), sets mode 0660 and the group, listens, and installs the stop-signal handlers.
  // Errors: kIoFailed (bind, chmod, chown).
  static Result<std::unique_ptr<ApiServer>> create(const Router& router, ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Serves until a stop signal arrives or stop() is called: then stops accepting, removes the
  // socket file, lets in-flight replies finish (bounded by shutdown_grace_ms) and returns.
  Status run();
  // Thread-safe request to stop; run() returns soon after.
  void stop();
  // The signal that stopped the server (0 if stop() or none yet).
  int stop_signal() const;

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lobster::api
