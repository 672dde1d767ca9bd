// Structured logging: one JSON object per line ({"ts","level","event",...fields}).
//
// The daemon calls log::init_file(path) once; before that (and in the CLI) records go to
// stderr only at warn level and above, so commands stay quiet. Never log secrets: pass token
// ids, not tokens.
//
//   log::info("tenant.spawned", {{"tenant", name}, {"ms", elapsed}});
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Sends records to `path` (appended, 0600). Returns an error if the file cannot be opened.
Status init_file(const std::string& path);
// Minimum level written (default kInfo).
void set_level(Level level);
// Also mirror records to stderr (daemon --foreground).
void set_stderr(bool on);

void write(Level level, std::string_view event, const nlohmann::json& fields);

inline void debug(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::kDebug, event, fields);
}
inline void info(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::kInfo, event, fields);
}
inline void warn(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::kWarn, event, fields);
}
inline void error(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
  write(Level::kError, event, fields);
}

}  // namespace lobster::log
