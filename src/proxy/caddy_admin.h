// CaddyAdmin: typed calls to Caddy's admin API over its Unix socket. Any non-2xx answer or an
// unreachable socket is kCaddyApiError (the message names the call and Caddy's error text).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::proxy {

class CaddyAdmin {
 public:
  explicit CaddyAdmin(std::string socket_path, int timeout_ms = 10'000)
      : socket_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  // Replaces the whole running config (POST /load).
  Status load(const nlohmann::json& config);
  // True if the admin socket answers.
  bool reachable();

 private:
  Result<std::string> call(const std::string& method, const std::string& target,
                           const std::string& body);
  std::string socket_;
  int timeout_ms_;
};

}  // namespace lobster::proxy
