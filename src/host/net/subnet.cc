#include "host/net/subnet.h"

#include <array>
#include <charconv>

namespace lobster::net {

std::string Ipv4::to_string() const {
  return fmt::format("{}.{}.{}.{}", (value >> 24) & 0xffU, (value >> 16) & 0xffU,
                     (value >> 8) & 0xffU, value & 0xffU);
}

Result<Ipv4> parse_ipv4(std::string_view text) {
  uint32_t out = 0;
  std::string_view rest = text;
  for (int octet = 0; octet < 4; ++octet) {
    size_t len = 0;
    while (len < rest.size() && rest[len] >= '0' && rest[len] <= '9') {
      ++len;
    }
    if (len == 0 || len > 3 || (len > 1 && rest[0] == '0')) {
      return make_error(ErrorCode::kValidationFailed, "invalid IPv4 address '{}'", text);
    }
    unsigned v = 0;
    std::from_chars(rest.data(), rest.data() + len, v);
    if (v > 255) {
      return make_error(ErrorCode::kValidationFailed, "invalid IPv4 address '{}'", text);
    }
    out = (out << 8) | v;
    rest.remove_prefix(len);
    if (octet < 3) {
      if (rest.empty() || rest[0] != '.') {
        return make_error(ErrorCode::kValidationFailed, "invalid IPv4 address '{}'", text);
      }
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty()) {
    return make_error(ErrorCode::kValidationFailed, "invalid IPv4 address '{}'", text);
  }
  return Ipv4{out};
}

namespace {
uint32_t mask_of(int prefix) { return prefix == 0 ? 0U : ~((uint32_t{1} << (32 - prefix)) - 1U); }
}  // namespace

bool Block::contains(Ipv4 ip) const { return (ip.value & mask_of(prefix)) == network.value; }

Ipv4 Block::last() const { return Ipv4{network.value | ~mask_of(prefix)}; }

Result<Block> block_for_base(Ipv4 base) {
  static constexpr std::array<std::pair<uint32_t, int>, 4> kBlocks = {{
      {0x0A000000U, 8},   // 10.0.0.0/8
      {0xAC100000U, 12},  // 172.16.0.0/12
      {0xC0A80000U, 16},  // 192.168.0.0/16
      {0x64400000U, 10},  // 100.64.0.0/10
  }};
  if ((base.value & 3U) != 0) {
    return make_error(ErrorCode::kValidationFailed, "network.subnetBase {} is not aligned to a /30",
                      base.to_string());
  }
  for (auto [net, prefix] : kBlocks) {
    Block b{Ipv4{net}, prefix};
    if (b.contains(base)) {
      return b;
    }
  }
  return make_error(ErrorCode::kValidationFailed,
                    "network.subnetBase {} is not inside 10/8, 172.16/12, 192.168/16 or 100.64/10",
                    base.to_string());
}

Result<uint32_t> max_index(Ipv4 base) {
  Block b = LOB_TRY(block_for_base(base));
  // The /30 at index i spans base+4i .. base+4i+3; it must end at or before the block's end.
  return (b.last().value - base.value - 3U) / 4U;
}

Result<Subnet> subnet_for_index(Ipv4 base, uint32_t index) {
  uint32_t max = LOB_TRY(max_index(base));
  if (index > max) {
    return make_error(ErrorCode::kResourceExhausted,
                      "subnet index {} exceeds the maximum {} for network.subnetBase {}", index,
                      max, base.to_string());
  }
  Subnet s;
  s.index = index;
  s.network = Ipv4{base.value + 4U * index};
  s.host = Ipv4{s.network.value + 1U};
  s.guest = Ipv4{s.network.value + 2U};
  return s;
}

std::string tap_name(uint32_t tap_id) { return fmt::format("{}{}", kTapPrefix, tap_id); }

std::optional<uint32_t> parse_tap_id(std::string_view name) {
  if (!name.starts_with(kTapPrefix)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kTapPrefix.size());
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return id;
}

bool valid_ifname(std::string_view name) {
  if (name.empty() || name.size() > kMaxIfName || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') {
      return false;
    }
  }
  return true;
}

}  // namespace lobster::net
