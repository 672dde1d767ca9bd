// Per-tenant config disk (guest-contract.md): a raw read-only block device carrying the
// tenant's identity and secrets, read once by lobster-init at boot. Layout: "LOBSTERCFG1\n",
// one UTF-8 JSON document, "\n", zero padding to a multiple of 4096 bytes.
//
// Secrets never go on the kernel command line; this file is created 0600 and attached
// read-only to the tenant's VM only.
//
//   ConfigDisk cfg{.hostname = "t1", .agent_token = token, ...};
//   LOB_TRY(image::write_config_disk(dir + "/config.img", cfg));
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::image {

inline constexpr std::string_view kConfigDiskMagic = "LOBSTERCFG1\n";
inline constexpr size_t kConfigDiskAlign = 4096;
inline constexpr size_t kConfigDiskMaxBytes = 4 << 20;  // lobster-init reads at most this

struct ConfigDisk {
  std::string hostname;
  std::string agent_token;  // required
  std::string gateway_token;
  std::string address;  // guest IPv4
  int prefix_length = 30;
  std::string gateway;  // host side of the /30
  std::vector<std::string> dns;
  std::string ssh_authorized_key;  // "ssh-ed25519 AAAA... lobsterd-t1"
  std::string ssh_host_key;        // dropbear-format host key file (raw bytes)
  nlohmann::json openclaw_config = nlohmann::json::object();
  uint16_t agent_port = 52;
  uint16_t health_port = 53;
  int64_t host_time_ms = 0;
};

// The device image bytes. kValidationFailed if a required field (hostname, agent_token,
// address) is empty or the result exceeds kConfigDiskMaxBytes.
Result<std::string> encode_config_disk(const ConfigDisk& cfg);

// Inverse of encode_config_disk (used by tests and diagnostics). kConfigInvalid if malformed.
Result<ConfigDisk> decode_config_disk(std::string_view raw);

// Writes the image atomically with mode 0600 (the file holds secrets). Replaces an existing
// file. kOverlayCreateFailed on I/O errors.
Status write_config_disk(const std::string& path, const ConfigDisk& cfg);

}  // namespace lobster::image
