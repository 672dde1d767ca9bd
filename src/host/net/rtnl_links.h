// RtnlLinks: the real Links over rtnetlink (libmnl) and the /dev/net/tun ioctls; no `ip`
// subprocesses. Bound to the network namespace of the thread that called create().
#pragma once

#include <string>

#include "host/net/links.h"
#include "host/net/netlink.h"

namespace lobster::net {

class RtnlLinks final : public Links {
 public:
  // `proc_sys` is the sysctl root ("/proc/sys"); `tun_device` the clone device.
  static Result<RtnlLinks> create(std::string proc_sys = "/proc/sys",
                                  std::string tun_device = "/dev/net/tun");

  Result<EnsureResult> ensure_tap(const TapSpec& spec) override;
  Result<bool> delete_link(std::string_view name) override;
  Result<std::optional<LinkInfo>> get_link(std::string_view name) override;
  Result<std::vector<LinkInfo>> list_links(std::string_view prefix) override;

 private:
  RtnlLinks(NetlinkSocket sock, std::string proc_sys, std::string tun_device)
      : sock_(std::move(sock)),
        proc_sys_(std::move(proc_sys)),
        tun_device_(std::move(tun_device)) {}

  Status make_tap(const TapSpec& spec);
  Status fill_addresses(std::vector<LinkInfo>& links);
  Status set_address(const LinkInfo& link, const TapSpec& spec, bool& changed);
  Status set_up(const LinkInfo& link);

  NetlinkSocket sock_;
  std::string proc_sys_;
  std::string tun_device_;
};

}  // namespace lobster::net
