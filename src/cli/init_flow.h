// The work of `lobsterd init`, shared with `lobsterd demo`: check root and Linux, write or
// update the config, create the layout and the lobsterd group, run preflight, then make sure
// the daemon runs with the current config (systemd unit where systemd is PID 1, else a
// detached daemon). Idempotent: running it again changes only what is missing or new.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command.h"

namespace lobster::cli {

struct InitRequest {
  std::optional<std::string> domain;
};

// Returns the summary printed by init (also its --json output).
// Errors: kNotRoot, kNotLinux, kConfigInvalid, kValidationFailed, kIoFailed, daemon start errors.
Result<nlohmann::json> init_host(const CliContext& ctx, const InitRequest& request);

// Human rendering of a preflight JSON array ("  ok   kvm: ...").
std::string format_preflight(const nlohmann::json& checks);

}  // namespace lobster::cli
