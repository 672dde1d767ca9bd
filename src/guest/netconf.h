// Network setup inside the guest through ioctls on an AF_INET socket (no ip(8), no shell):
// bring lo up, give eth0 its address/prefix, bring it up, add the default route.
#pragma once

#include <string>

#include "core/error.h"
#include "guest/guest_config.h"

namespace lobster::guest {

// Brings `ifname` up (IFF_UP).
Status link_up(const std::string& ifname);
// Sets an IPv4 address and prefix on `ifname`.
Status set_ipv4(const std::string& ifname, const std::string& address, int prefix_length);
// Adds "default via gateway". EEXIST counts as success (idempotent).
Status add_default_route(const std::string& gateway);
// lo up, then eth0 as configured (address, prefix, up, default route), and /etc/resolv.conf.
Status configure_network(const NetworkConfig& net);

}  // namespace lobster::guest
