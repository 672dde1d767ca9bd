// HTTP mapping of the error model: the one place that turns an ErrorCode into an HTTP status
// (spec §12 table, plus our codes), and the standard error body both ways.
//
//   Response r{http_status_for(e.code), error_body(e)};       // server side
//   Error e = error_from_reply(status, body_text);            // client side
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"

namespace lobster::api {

// Spec §12 statuses for the original codes; lobsterd codes map to the closest class
// (conflict 409, unavailable 503, bad upstream 502, not found 404, everything else 500).
unsigned http_status_for(ErrorCode code);

// {"code": "TENANT_NOT_FOUND", "message": ..., "hint": ...}; hint omitted when empty.
// `detail` is never sent (it may hold child stderr with host paths).
nlohmann::json error_body(const Error& error);

// Rebuilds an Error from a non-2xx reply. A body that is not the standard shape gives
// kProtocolError naming the status.
Error error_from_reply(unsigned status, std::string_view body);

}  // namespace lobster::api
