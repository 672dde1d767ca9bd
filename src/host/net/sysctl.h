// Sysctl: read and idempotently write /proc/sys keys under an injectable root (tests point it
// at a temp dir; inside a network namespace /proc/sys/net shows that namespace).
//
//   LOB_TRY(net::ensure_sysctl("/proc/sys", "net/ipv4/ip_forward", "1"));
#pragma once

#include <string>

#include "core/error.h"

namespace lobster::net {

// The key's value without the trailing newline. kNetworkFailed (ENOENT if the key is missing).
Result<std::string> read_sysctl(const std::string& root, const std::string& key);

// Writes `value` unless the key already holds it. Returns true if it wrote. kNetworkFailed.
Result<bool> ensure_sysctl(const std::string& root, const std::string& key,
                           const std::string& value);

}  // namespace lobster::net
