// The ingress process (`lobsterd ingress`, started by the daemon): wires IngressServer to the
// real tenant directory (read-only queries on the SQLite store, so routing and wake-ups keep
// working while the daemon is down or restarting) and to the daemon's API for resumes.
#pragma once

#include "core/config.h"
#include "core/error.h"
#include "core/paths.h"
#include "ingress/server.h"

namespace lobster::ingress {

// The server options `lobsterd ingress` runs with for this root and config.
IngressOptions options_for(const Paths& paths, const Config& config);

// Serves until SIGTERM or SIGINT. Errors: kConfigInvalid, kStoreFailed, kIoFailed (sockets).
Status run_ingress(const Paths& paths);

}  // namespace lobster::ingress
