// Links: the host side of each tenant's network, i.e. its TAP device, the TAP's address, link
// state and per-device sysctls.
//
// The tenant layer calls ensure_tap() during spawn and repair, delete_link() on evict, and
// list_links(kTapPrefix) during reconcile to find TAPs left by tenants that no longer exist.
// Every mutating call is idempotent: it checks the current state first and only changes what
// differs, so reconcile after a host reboot and retries are safe (spec §16 items 11, 12).
// The real implementation is RtnlLinks (rtnetlink + /dev/net/tun); testing::FakeLinks keeps
// the same state in memory.
//
//   RtnlLinks links = LOB_TRY(RtnlLinks::create());
//   auto r = LOB_TRY(links.ensure_tap({.name = "lt3", .owner_uid = 10003, .owner_gid = 10003,
//                                      .address = sub.host, .prefix = 30}));
//   if (r.created) { /* a VM still holding the old TAP must be restarted (spec §16 item 12) */ }
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "host/net/subnet.h"

namespace lobster::net {

struct TapSpec {
  std::string name;     // valid_ifname(); usually tap_name(tap_id)
  uid_t owner_uid = 0;  // the jailed VMM's uid: it may open the TAP without privileges
  gid_t owner_gid = 0;
  Ipv4 address;  // the host side of the tenant /30
  int prefix = Subnet::kPrefix;
};

struct EnsureResult {
  // True when the device did not exist before the call. A VMM holding the previous device's fd
  // is now attached to nothing and must be restarted.
  bool created = false;
  // True when anything had to be changed (device, owner, address, link state, sysctl).
  bool changed = false;
};

struct LinkInfo {
  std::string name;
  int index = 0;
  bool up = false;
  std::string kind;                // "tun", "veth", ... ("" if the kernel reports none)
  std::optional<uid_t> tun_owner;  // only for TUN/TAP devices that have an owner
  std::optional<gid_t> tun_group;
  std::vector<std::pair<Ipv4, int>> addresses;  // IPv4 addresses with prefix lengths
  bool operator==(const LinkInfo&) const = default;
};

class Links {
 public:
  virtual ~Links() = default;

  // Makes `spec.name` a persistent TAP (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR) owned by
  // owner_uid/owner_gid, with exactly `address/prefix` as its IPv4 address, IPv6 disabled,
  // strict reverse-path filtering, and the link up. Idempotent.
  // Errors: kValidationFailed (bad name), kTapCreateFailed (device exists but is not a TAP, or
  // the kernel refused to create it), kNetworkFailed (address, link state or sysctl).
  virtual Result<EnsureResult> ensure_tap(const TapSpec& spec) = 0;

  // Deletes the link `name`. A missing link is success (returns false); true if deleted.
  // Errors: kNetworkFailed.
  virtual Result<bool> delete_link(std::string_view name) = 0;

  // The link's state, or std::nullopt if it does not exist. Errors: kNetworkFailed.
  virtual Result<std::optional<LinkInfo>> get_link(std::string_view name) = 0;

  // Every link whose name starts with `prefix` (e.g. kTapPrefix), sorted by name.
  virtual Result<std::vector<LinkInfo>> list_links(std::string_view prefix) = 0;
};

}  // namespace lobster::net
