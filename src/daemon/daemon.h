// The lobsterd daemon: one per state root, owner of all state, serving the REST API on
// <run_dir>/api.sock. This file is the only place that wires the real implementations
// (SqliteStore, the API server, preflight) together.
//
//   lobsterd daemon --foreground  ->  run_foreground(paths, {})
//   lobsterd daemon / init        ->  start_detached(paths)  (returns once the API answers)
//
// Start order: layout, pid-file lock (kDaemonRunning if another daemon holds it), log file,
// config, store, preflight, API socket, "ready". SIGTERM/SIGINT: stop accepting, finish
// in-flight replies, remove the socket and the pid file, return ok (exit status 0).
#pragma once

#include <sys/types.h>

#include <optional>

#include "core/error.h"
#include "core/paths.h"

namespace lobster::daemon {

struct DaemonOptions {
  bool log_to_stderr = false;  // mirror the structured log to stderr (--foreground)
  int ready_fd = -1;  // if >= 0: "ready <pid>\n" or "error <json>\n" is written, then closed
};

// Runs the daemon in this process until a stop signal. Errors before "ready" are returned
// (and reported on ready_fd); kDaemonRunning if another daemon owns the root.
Status run_foreground(const Paths& paths, const DaemonOptions& options);

// Detaches a daemon (double fork, setsid, stdio to /dev/null) and waits until its API socket
// is ready (bounded by timeout_ms). Returns the daemon's pid, or the error it reported
// (kDaemonRunning, kConfigInvalid, ...). Call it before the caller starts threads.
Result<pid_t> start_detached(const Paths& paths, int timeout_ms = 60'000);

// The pid of the daemon holding this root's pid-file lock, or nullopt.
Result<std::optional<pid_t>> running_daemon(const Paths& paths);

// Sends SIGTERM to the root's daemon and waits (bounded) until it released its lock.
// No daemon is success. Errors: kExecTimeout if it did not stop in time.
Status stop_daemon(const Paths& paths, int timeout_ms = 10'000);

}  // namespace lobster::daemon
