// Heartbeat schedule computation (declared in openclaw_rpc.h): pure functions, no I/O.
#include <cmath>
#include <string>

#include "guest/openclaw_rpc.h"

namespace lobster::guest {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Largest interval accepted: JavaScript's Number.MAX_SAFE_INTEGER, as OpenClaw requires.
constexpr double kMaxSafeMs = 9007199254740991.0;

}  // namespace

std::optional<int64_t> parse_heartbeat_every(std::string_view every) {
  while (!every.empty() && std::isspace(static_cast<unsigned char>(every.front()))) {
    every.remove_prefix(1);
  }
  while (!every.empty() && std::isspace(static_cast<unsigned char>(every.back()))) {
    every.remove_suffix(1);
  }
  std::string s(every);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  if (s.empty())
    return std::nullopt;
  double total_ms = 0;
  size_t pos = 0;
  int segments = 0;
  while (pos < s.size()) {
    const size_t num_start = pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == num_start)
      return std::nullopt;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      const size_t frac_start = pos;
      while (pos < s.size() && is_digit(s[pos])) ++pos;
      if (pos == frac_start)
        return std::nullopt;
    }
    const double value = std::strtod(s.substr(num_start, pos - num_start).c_str(), nullptr);
    double unit_ms = 0;
    if (s.compare(pos, 2, "ms") == 0) {
      unit_ms = 1;
      pos += 2;
    } else if (pos < s.size() && s[pos] == 's') {
      unit_ms = 1000;
      ++pos;
    } else if (pos < s.size() && s[pos] == 'm') {
      unit_ms = 60'000;
      ++pos;
    } else if (pos < s.size() && s[pos] == 'h') {
      unit_ms = 3'600'000;
      ++pos;
    } else if (pos < s.size() && s[pos] == 'd') {
      unit_ms = 86'400'000;
      ++pos;
    } else if (pos == s.size() && segments == 0) {
      unit_ms = 60'000;  // A bare number means minutes (OpenClaw's defaultUnit "m").
    } else {
      return std::nullopt;  // Composite segments each need a unit; anything else is invalid.
    }
    total_ms += value * unit_ms;
    ++segments;
  }
  const double rounded = std::round(total_ms);
  if (!(rounded > 0) || rounded > kMaxSafeMs)
    return std::nullopt;
  return static_cast<int64_t>(rounded);
}

HeartbeatSchedule compute_heartbeat_schedule(std::optional<int64_t> interval_ms,
                                             int64_t last_beat_ms, int64_t now_ms) {
  if (!interval_ms || *interval_ms <= 0)
    return {};
  const int64_t interval = *interval_ms;
  HeartbeatSchedule out{.enabled = true, .interval_ms = interval, .next_beat_at_ms = 0};
  if (last_beat_ms <= 0) {
    out.next_beat_at_ms = now_ms + interval;
    return out;
  }
  int64_t next = last_beat_ms + interval;
  if (next <= now_ms) {
    // First grid point strictly after now (spec §16 item 24: never next == now).
    const int64_t periods = (now_ms - last_beat_ms) / interval + 1;
    next = last_beat_ms + periods * interval;
  }
  out.next_beat_at_ms = next;
  return out;
}

std::optional<int64_t> heartbeat_interval_from_config(const nlohmann::json& config) {
  if (!config.is_object())
    return std::nullopt;
  auto agents = config.find("agents");
  if (agents == config.end() || !agents->is_object())
    return std::nullopt;
  auto defaults = agents->find("defaults");
  if (defaults == agents->end() || !defaults->is_object())
    return std::nullopt;
  auto heartbeat = defaults->find("heartbeat");
  if (heartbeat == defaults->end() || !heartbeat->is_object())
    return std::nullopt;
  auto every = heartbeat->find("every");
  if (every == heartbeat->end() || every->is_null())
    return parse_heartbeat_every("30m");
  if (!every->is_string())
    return std::nullopt;
  return parse_heartbeat_every(every->get<std::string>());
}

}  // namespace lobster::guest
