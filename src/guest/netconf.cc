#include "guest/netconf.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "core/fs.h"
#include "core/unique_fd.h"

namespace lobster::guest {
namespace {

Result<UniqueFd> inet_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return errno_error(ErrorCode::kNetworkFailed, "socket(AF_INET)");
  }
  return fd;
}

Result<sockaddr_in> parse_ipv4(const std::string& s) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (::inet_pton(AF_INET, s.c_str(), &a.sin_addr) != 1) {
    return make_error(ErrorCode::kNetworkFailed, "bad IPv4 address '{}'", s);
  }
  return a;
}

void set_name(ifreq& ifr, const std::string& ifname) {
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
}

}  // namespace

Status link_up(const std::string& ifname) {
  UniqueFd fd = LOB_TRY(inet_socket());
  ifreq ifr{};
  set_name(ifr, ifname);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "SIOCGIFFLAGS " + ifname);
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &ifr) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "SIOCSIFFLAGS up " + ifname);
  }
  return ok();
}

Status set_ipv4(const std::string& ifname, const std::string& address, int prefix_length) {
  UniqueFd fd = LOB_TRY(inet_socket());
  sockaddr_in addr = LOB_TRY(parse_ipv4(address));
  ifreq ifr{};
  set_name(ifr, ifname);
  // Kernel ABI: ifr_addr is a sockaddr large enough for sockaddr_in (both 16 bytes).
  std::memcpy(&ifr.ifr_addr, &addr, sizeof(addr));
  if (::ioctl(fd.get(), SIOCSIFADDR, &ifr) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "SIOCSIFADDR " + ifname + " " + address);
  }
  sockaddr_in mask{};
  mask.sin_family = AF_INET;
  mask.sin_addr.s_addr = htonl(prefix_to_mask(prefix_length));
  // Kernel ABI: as above, for the netmask member of the union.
  std::memcpy(&ifr.ifr_netmask, &mask, sizeof(mask));
  if (::ioctl(fd.get(), SIOCSIFNETMASK, &ifr) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "SIOCSIFNETMASK " + ifname);
  }
  return ok();
}

Status add_default_route(const std::string& gateway) {
  UniqueFd fd = LOB_TRY(inet_socket());
  sockaddr_in gw = LOB_TRY(parse_ipv4(gateway));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  rtentry rt{};
  // Kernel ABI: rtentry's rt_dst/rt_gateway/rt_genmask are struct sockaddr (16 bytes), the
  // same size as sockaddr_in.
  std::memcpy(&rt.rt_dst, &any, sizeof(any));
  std::memcpy(&rt.rt_genmask, &any, sizeof(any));
  std::memcpy(&rt.rt_gateway, &gw, sizeof(gw));
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  if (::ioctl(fd.get(), SIOCADDRT, &rt) != 0 && errno != EEXIST) {
    return errno_error(ErrorCode::kNetworkFailed, "SIOCADDRT default via " + gateway);
  }
  return ok();
}

Status configure_network(const NetworkConfig& net) {
  LOB_TRY(link_up("lo"));
  LOB_TRY(set_ipv4("eth0", net.address, net.prefix_length));
  LOB_TRY(link_up("eth0"));
  if (!net.gateway.empty()) {
    LOB_TRY(add_default_route(net.gateway));
  }
  if (!net.dns.empty()) {
    std::string resolv;
    for (const auto& d : net.dns) {
      resolv += "nameserver " + d + "\n";
    }
    LOB_TRY(fs::write_file_atomic("/etc/resolv.conf", resolv, 0644));
  }
  return ok();
}

}  // namespace lobster::guest
