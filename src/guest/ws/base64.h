// Standard base64 (RFC 4648 §4, with padding) for the WebSocket handshake.
#pragma once

#include <string>
#include <string_view>

namespace lobster::guest::ws {

std::string base64_encode(std::string_view data);

}  // namespace lobster::guest::ws
