#include "host/net/rtnl_links.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>

#include "core/unique_fd.h"
#include "host/net/sysctl.h"

namespace lobster::net {

namespace {

struct LinkAttrs {
  const nlattr* tb[IFLA_MAX + 1] = {};
};

int collect_attr(const nlattr* attr, void* data, int max) {
  auto** tb = static_cast<const nlattr**>(data);
  int type = mnl_attr_get_type(attr);
  if (type >= 0 && type <= max) {
    tb[type] = attr;
  }
  return MNL_CB_OK;
}
int collect_link_attr(const nlattr* attr, void* data) { return collect_attr(attr, data, IFLA_MAX); }
int collect_info_attr(const nlattr* attr, void* data) {
  return collect_attr(attr, data, IFLA_INFO_MAX);
}
int collect_tun_attr(const nlattr* attr, void* data) {
  return collect_attr(attr, data, IFLA_TUN_MAX);
}
int collect_addr_attr(const nlattr* attr, void* data) { return collect_attr(attr, data, IFA_MAX); }

LinkInfo parse_link(const nlmsghdr* nlh) {
  // Kernel ABI: RTM_NEWLINK replies carry a struct ifinfomsg right after the header.
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkInfo info;
  info.index = ifi->ifi_index;
  info.up = (ifi->ifi_flags & IFF_UP) != 0;
  const nlattr* tb[IFLA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*ifi), collect_link_attr, tb);
  if (tb[IFLA_IFNAME] != nullptr) {
    info.name = mnl_attr_get_str(tb[IFLA_IFNAME]);
  }
  if (tb[IFLA_LINKINFO] != nullptr) {
    const nlattr* li[IFLA_INFO_MAX + 1] = {};
    mnl_attr_parse_nested(tb[IFLA_LINKINFO], collect_info_attr, li);
    if (li[IFLA_INFO_KIND] != nullptr) {
      info.kind = mnl_attr_get_str(li[IFLA_INFO_KIND]);
    }
    if (info.kind == "tun" && li[IFLA_INFO_DATA] != nullptr) {
      const nlattr* tun[IFLA_TUN_MAX + 1] = {};
      mnl_attr_parse_nested(li[IFLA_INFO_DATA], collect_tun_attr, tun);
      // Kernel ABI: IFLA_TUN_OWNER/GROUP are u32 and absent when no owner is set.
      if (tun[IFLA_TUN_OWNER] != nullptr) {
        info.tun_owner = mnl_attr_get_u32(tun[IFLA_TUN_OWNER]);
      }
      if (tun[IFLA_TUN_GROUP] != nullptr) {
        info.tun_group = mnl_attr_get_u32(tun[IFLA_TUN_GROUP]);
      }
    }
  }
  return info;
}

}  // namespace

Result<RtnlLinks> RtnlLinks::create(std::string proc_sys, std::string tun_device) {
  NetlinkSocket sock = LOB_TRY(NetlinkSocket::open());
  return RtnlLinks(std::move(sock), std::move(proc_sys), std::move(tun_device));
}

Status RtnlLinks::fill_addresses(std::vector<LinkInfo>& links) {
  nlmsghdr* nlh = sock_.start(RTM_GETADDR, NLM_F_DUMP, sizeof(ifaddrmsg));
  // Kernel ABI: the extra header of an address dump request is a struct ifaddrmsg.
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  ifa->ifa_family = AF_INET;
  return sock_.transact(ErrorCode::kNetworkFailed, "list IPv4 addresses", [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWADDR) {
      return;
    }
    const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    const nlattr* tb[IFA_MAX + 1] = {};
    mnl_attr_parse(m, sizeof(*a), collect_addr_attr, tb);
    const nlattr* local = tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (a->ifa_family != AF_INET || local == nullptr) {
      return;
    }
    for (LinkInfo& l : links) {
      if (l.index == static_cast<int>(a->ifa_index)) {
        uint32_t be = mnl_attr_get_u32(local);
        l.addresses.emplace_back(Ipv4{ntohl(be)}, a->ifa_prefixlen);
      }
    }
  });
}

Result<std::optional<LinkInfo>> RtnlLinks::get_link(std::string_view name) {
  if (!valid_ifname(name)) {
    return make_error(ErrorCode::kValidationFailed, "invalid interface name '{}'", name);
  }
  nlmsghdr* nlh = sock_.start(RTM_GETLINK, 0, sizeof(ifinfomsg));
  std::string n(name);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, n.c_str());
  std::vector<LinkInfo> found;
  Status st = sock_.transact(ErrorCode::kNetworkFailed, "get link " + n, [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWLINK) {
      found.push_back(parse_link(m));
    }
  });
  if (!st.has_value()) {
    if (st.error().sys_errno == ENODEV) {
      return std::optional<LinkInfo>();
    }
    return std::unexpected(st.error());
  }
  if (found.empty()) {
    return std::optional<LinkInfo>();
  }
  LOB_TRY(fill_addresses(found));
  return std::optional<LinkInfo>(std::move(found.front()));
}

Result<std::vector<LinkInfo>> RtnlLinks::list_links(std::string_view prefix) {
  nlmsghdr* nlh = sock_.start(RTM_GETLINK, NLM_F_DUMP, sizeof(ifinfomsg));
  (void)nlh;
  std::vector<LinkInfo> out;
  LOB_TRY(sock_.transact(ErrorCode::kNetworkFailed, "list links", [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) {
      return;
    }
    LinkInfo l = parse_link(m);
    if (l.name.starts_with(prefix)) {
      out.push_back(std::move(l));
    }
  }));
  LOB_TRY(fill_addresses(out));
  std::sort(out.begin(), out.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.name < b.name; });
  return out;
}

Result<bool> RtnlLinks::delete_link(std::string_view name) {
  if (!valid_ifname(name)) {
    return make_error(ErrorCode::kValidationFailed, "invalid interface name '{}'", name);
  }
  std::string n(name);
  nlmsghdr* nlh = sock_.start(RTM_DELLINK, 0, sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, n.c_str());
  Status st = sock_.transact(ErrorCode::kNetworkFailed, "delete link " + n);
  if (!st.has_value()) {
    if (st.error().sys_errno == ENODEV) {
      return false;
    }
    return std::unexpected(st.error());
  }
  return true;
}

Status RtnlLinks::make_tap(const TapSpec& spec) {
  UniqueFd fd(::open(tun_device_.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kTapCreateFailed, "open " + tun_device_);
  }
  ifreq ifr{};
  // Kernel ABI: TUNSETIFF reads ifr_name (NUL-terminated, < IFNAMSIZ; valid_ifname checked the
  // length) and ifr_flags from a struct ifreq.
  std::memcpy(ifr.ifr_name, spec.name.data(), spec.name.size());
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    return errno_error(ErrorCode::kTapCreateFailed, "create TAP " + spec.name);
  }
  // Kernel ABI: TUNSETOWNER/TUNSETGROUP/TUNSETPERSIST take the value itself as the argument.
  if (::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(spec.owner_uid)) < 0) {
    return errno_error(ErrorCode::kTapCreateFailed, "set owner of TAP " + spec.name);
  }
  if (::ioctl(fd.get(), TUNSETGROUP, static_cast<unsigned long>(spec.owner_gid)) < 0) {
    return errno_error(ErrorCode::kTapCreateFailed, "set group of TAP " + spec.name);
  }
  // Persist last: if anything above failed, closing the fd destroys the half-made device.
  if (::ioctl(fd.get(), TUNSETPERSIST, 1UL) < 0) {
    return errno_error(ErrorCode::kTapCreateFailed, "make TAP " + spec.name + " persistent");
  }
  return ok();
}

Status RtnlLinks::set_address(const LinkInfo& link, const TapSpec& spec, bool& changed) {
  for (const auto& [addr, prefix] : link.addresses) {
    if (addr == spec.address && prefix == spec.prefix) {
      continue;
    }
    nlmsghdr* nlh = sock_.start(RTM_DELADDR, 0, sizeof(ifaddrmsg));
    // Kernel ABI: address requests carry a struct ifaddrmsg then IFA_LOCAL in network order.
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
    ifa->ifa_index = static_cast<unsigned>(link.index);
    mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr.value));
    LOB_TRY(sock_.transact(ErrorCode::kNetworkFailed,
                           "remove stale address " + addr.to_string() + " from " + link.name));
    changed = true;
  }
  bool present = std::find(link.addresses.begin(), link.addresses.end(),
                           std::pair{spec.address, spec.prefix}) != link.addresses.end();
  if (present) {
    return ok();
  }
  nlmsghdr* nlh = sock_.start(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(ifaddrmsg));
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(spec.prefix);
  ifa->ifa_index = static_cast<unsigned>(link.index);
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(spec.address.value));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(spec.address.value));
  changed = true;
  return sock_.transact(
      ErrorCode::kNetworkFailed,
      fmt::format("add address {}/{} to {}", spec.address.to_string(), spec.prefix, link.name));
}

Status RtnlLinks::set_up(const LinkInfo& link) {
  nlmsghdr* nlh = sock_.start(RTM_NEWLINK, 0, sizeof(ifinfomsg));
  // Kernel ABI: ifi_change selects which ifi_flags bits the kernel applies.
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = link.index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return sock_.transact(ErrorCode::kNetworkFailed, "set link " + link.name + " up");
}

Result<EnsureResult> RtnlLinks::ensure_tap(const TapSpec& spec) {
  if (!valid_ifname(spec.name)) {
    return make_error(ErrorCode::kValidationFailed, "invalid TAP name '{}'", spec.name);
  }
  if (spec.prefix < 0 || spec.prefix > 32) {
    return make_error(ErrorCode::kValidationFailed, "invalid prefix length {}", spec.prefix);
  }
  EnsureResult result;
  auto existing = LOB_TRY(get_link(spec.name));
  if (existing.has_value() && existing->kind != "tun") {
    return make_error(ErrorCode::kTapCreateFailed,
                      "create TAP {}: a link of kind '{}' already has that name", spec.name,
                      existing->kind);
  }
  if (!existing.has_value() || existing->tun_owner != spec.owner_uid ||
      existing->tun_group != spec.owner_gid) {
    LOB_TRY(make_tap(spec));
    result.created = !existing.has_value();
    result.changed = true;
    existing = LOB_TRY(get_link(spec.name));
    if (!existing.has_value()) {
      return make_error(ErrorCode::kTapCreateFailed, "create TAP {}: vanished after creation",
                        spec.name);
    }
  }
  // IPv6 off before the link goes up, so the guest never sees a link-local address or RA.
  // Strict reverse-path filtering drops guest packets with a source outside its /30 early.
  bool wrote =
      LOB_TRY(ensure_sysctl(proc_sys_, "net/ipv6/conf/" + spec.name + "/disable_ipv6", "1"));
  result.changed = result.changed || wrote;
  wrote = LOB_TRY(ensure_sysctl(proc_sys_, "net/ipv4/conf/" + spec.name + "/rp_filter", "1"));
  result.changed = result.changed || wrote;
  LOB_TRY(set_address(*existing, spec, result.changed));
  if (!existing->up) {
    LOB_TRY(set_up(*existing));
    result.changed = true;
  }
  return result;
}

}  // namespace lobster::net
