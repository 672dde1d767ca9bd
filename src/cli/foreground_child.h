// Runs an interactive child (ssh for exec/configure/devices) with this process's stdin,
// stdout and stderr, in this process's group, so when the CLI is the terminal's foreground job
// the child is too and reads the terminal. While the child runs the CLI ignores SIGINT and
// SIGQUIT (^C and ^\ belong to the child and, through ssh, the remote command); the child starts
// with default dispositions. Unlike ProcessRunner (captured output, for host commands) this is
// only for handing the user's terminal to a client program.
//
//   int code = LOB_TRY(run_foreground(argv, 120'000, [&] { keep_hold(); }));
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::cli {

// Spawns argv[0] (PATH lookup), calls `tick` every tick_ms until the child exits and returns
// its exit code, or 128 + signal number if a signal killed it. kExecFailed if it cannot start.
Result<int> run_foreground(const std::vector<std::string>& argv, int64_t tick_ms,
                           const std::function<void()>& tick);

}  // namespace lobster::cli
