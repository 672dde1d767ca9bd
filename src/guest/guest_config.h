// The per-tenant config disk and the rootfs profile (guest contract), parsed by lobster-init.
// Pure functions over bytes so the format is unit-tested on the host.
//
//   auto raw = LOB_TRY(read_config_device("/dev/vdc"));
//   GuestConfig cfg = LOB_TRY(parse_config_disk(raw));
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::guest {

inline constexpr std::string_view kConfigMagic = "LOBSTERCFG1\n";

struct NetworkConfig {
  std::string address;  // guest IPv4
  int prefix_length = 30;
  std::string gateway;  // host side of the /30
  std::vector<std::string> dns;
};

struct GuestConfig {
  std::string hostname;
  std::string agent_token;  // required; never logged
  std::string gateway_token;
  NetworkConfig network;
  std::string ssh_authorized_key;
  std::string ssh_host_key;  // decoded dropbear host key file (binary)
  nlohmann::json openclaw_config = nlohmann::json::object();
  uint16_t agent_port = 52;
  uint16_t health_port = 53;
  int64_t host_time_ms = 0;
};

// Parses the raw device contents: magic, JSON document, '\n', zero padding. Missing required
// keys (version, hostname, agentToken, network.address) -> kConfigInvalid naming the key.
Result<GuestConfig> parse_config_disk(std::string_view raw);

// Reads at most `max_bytes` of a device or file.
Result<std::string> read_config_device(const std::string& path, size_t max_bytes = 4 << 20);

// True if `head` (the first bytes of a block device) starts with the config magic.
bool has_config_magic(std::string_view head);

struct GatewayProfile {
  std::string profile;  // "minimal" | "openclaw"
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd = "/root";
};

// /etc/lobster/profile.json. kConfigInvalid if gateway.argv is missing or empty.
Result<GatewayProfile> parse_profile(std::string_view json_text);

// RFC 4648 base64 (standard alphabet, padding optional, whitespace ignored).
std::optional<std::string> base64_decode(std::string_view in);

// Dotted prefix length -> netmask ("30" -> 255.255.255.252), host byte order.
uint32_t prefix_to_mask(int prefix_length);

}  // namespace lobster::guest
