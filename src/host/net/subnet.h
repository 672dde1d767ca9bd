// Per-tenant address math and interface names (pure functions, no host effects).
//
// Each tenant owns one /30 carved from `network.subnetBase` (DESIGN.md "Network", spec §4):
// index i gives network base+4i, host (TAP side) base+4i+1, guest base+4i+2. The allocator in
// the store hands out indexes; this module only maps an index to addresses and bounds it by the
// private block that contains the base (a clear kResourceExhausted when the block is full).
// TAP names come from the store's short numeric TAP id, never from the tenant name, so every
// name fits IFNAMSIZ (spec §16 item 27: the original broke on names over 11 characters).
//
//   auto base = LOB_TRY(net::parse_ipv4(cfg.network.subnet_base));
//   auto sub = LOB_TRY(net::subnet_for_index(base, 1));  // host 10.0.0.5, guest 10.0.0.6
//   std::string tap = net::tap_name(tap_id);              // "lt17"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::net {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  std::string to_string() const;
  bool operator==(const Ipv4&) const = default;
  auto operator<=>(const Ipv4&) const = default;
};

// Strict dotted-quad parser ("10.0.0.0"; no leading zeros, no shorthand). kValidationFailed.
Result<Ipv4> parse_ipv4(std::string_view text);

// A private block (RFC 1918 or RFC 6598) and its mask length.
struct Block {
  Ipv4 network;
  int prefix = 0;
  bool contains(Ipv4 ip) const;
  Ipv4 last() const;
};

struct Subnet {
  uint32_t index = 0;
  Ipv4 network;  // base + 4*index
  Ipv4 host;     // network + 1: the TAP's address
  Ipv4 guest;    // network + 2: the guest's address
  static constexpr int kPrefix = 30;
  bool operator==(const Subnet&) const = default;
};

// The private block containing `base` (10/8, 172.16/12, 192.168/16 or 100.64/10).
// kValidationFailed if `base` is in none of them or is not /30-aligned.
Result<Block> block_for_base(Ipv4 base);

// Largest valid index for `base`: the last /30 that still fits inside its block.
Result<uint32_t> max_index(Ipv4 base);

// Addresses for `index`. kValidationFailed for a bad base; kResourceExhausted when the /30
// would leave the base's block.
Result<Subnet> subnet_for_index(Ipv4 base, uint32_t index);

// Interface names: "lt" + decimal TAP id (at most 12 bytes, always < IFNAMSIZ).
inline constexpr std::string_view kTapPrefix = "lt";
inline constexpr size_t kMaxIfName = 15;
std::string tap_name(uint32_t tap_id);
// The TAP id of a name produced by tap_name() ("lt17" -> 17); nullopt for anything else.
std::optional<uint32_t> parse_tap_id(std::string_view name);
// True for a Linux-valid interface name (1..15 bytes, no '/', ':', whitespace, not "." / "..").
bool valid_ifname(std::string_view name);

}  // namespace lobster::net
