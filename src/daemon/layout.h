// The state root's directory layout with the modes documented in core/paths.h. Shared by
// `lobsterd init` and the daemon (which may be started on its own), so both create the same
// tree. Idempotent: existing directories get their mode re-applied, contents are untouched.
#pragma once

#include "core/error.h"
#include "core/paths.h"

namespace lobster::daemon {

// Creates every directory of the layout. Errors: kIoFailed naming the directory.
Status ensure_layout(const Paths& paths);

// Removes every directory of the layout (and the root itself when it is a custom root left
// empty). Missing directories are fine. Errors: kIoFailed.
Status remove_layout(const Paths& paths);

}  // namespace lobster::daemon
