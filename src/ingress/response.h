// The ingress's own HTTP answers (internal): errors with api::error_body JSON and the control
// endpoints' JSON. Bodies are dumped with invalid UTF-8 replaced: error messages can carry
// bytes a client sent (a bad Host label), and nlohmann::json throws on invalid UTF-8.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace lobster::ingress {

// "HTTP/1.1 <status> <reason>" + JSON error body + Connection: close (+ Retry-After when > 0).
std::string error_response(unsigned status, const Error& e, int64_t retry_after_s);
// 200 with `j` as the body.
std::string json_response(const nlohmann::json& j);

}  // namespace lobster::ingress
