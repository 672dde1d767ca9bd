// Config handling of `lobsterd init`, kept pure for unit tests:
// - no config file: write the defaults (with --domain applied);
// - a valid config file: keep it byte for byte, except that a new --domain is patched into
//   caddy.domain (every other key, including ones left at defaults, stays as written);
// - an invalid config file: kConfigInvalid naming the key path, and nothing is written.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "core/paths.h"

namespace lobster::cli {

struct ConfigPlan {
  std::optional<std::string> new_text;  // text to write atomically (0600); nullopt = keep file
  std::string action;                   // "written" | "kept" | "updated"
  Config config;                        // the effective configuration afterwards
};

// `existing` is the current file's text, nullopt when there is no file.
// Errors: kConfigInvalid (existing text), kValidationFailed (domain).
Result<ConfigPlan> plan_init_config(const std::optional<std::string>& existing,
                                    const std::optional<std::string>& domain, const Paths& paths);

// A DNS name for tenant routes: lower-case labels of [a-z0-9-], 1..63 characters, not
// starting or ending with '-', at most 253 characters. Errors: kValidationFailed.
Status validate_domain(const std::string& domain);

}  // namespace lobster::cli
