#include "host/net/testing/netns.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "host/net/netlink.h"

namespace lobster::net::testing {

namespace {
Result<UniqueFd> current_ns() {
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kNetworkFailed, "open /proc/thread-self/ns/net");
  }
  return fd;
}

Status loopback_up() {
  NetlinkSocket sock = LOB_TRY(NetlinkSocket::open());
  nlmsghdr* nlh = sock.start(RTM_NEWLINK, 0, sizeof(ifinfomsg));
  // Kernel ABI: RTM_NEWLINK carries a struct ifinfomsg; lo is always ifindex 1 in a new netns.
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  ifi->ifi_index = 1;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return sock.transact(ErrorCode::kNetworkFailed, "set lo up");
}
}  // namespace

Result<Netns> Netns::create() {
  UniqueFd original = LOB_TRY(current_ns());
  if (::unshare(CLONE_NEWNET) < 0) {
    return errno_error(ErrorCode::kNetworkFailed, "unshare(CLONE_NEWNET)");
  }
  auto created = current_ns();
  Status up = created.has_value() ? loopback_up() : ok();
  if (::setns(original.get(), CLONE_NEWNET) < 0) {
    // Cannot return to the original namespace: continuing would run the rest of the process
    // in the wrong place.
    std::abort();
  }
  if (!created.has_value()) {
    return std::unexpected(created.error());
  }
  LOB_TRY(std::move(up));
  return Netns(std::move(*created));
}

std::string Netns::path() const { return fmt::format("/proc/{}/fd/{}", ::getpid(), fd_.get()); }

Result<NetnsGuard> NetnsGuard::enter(const Netns& ns) {
  UniqueFd original = LOB_TRY(current_ns());
  if (::setns(ns.fd(), CLONE_NEWNET) < 0) {
    return errno_error(ErrorCode::kNetworkFailed, "setns into test namespace");
  }
  return NetnsGuard(std::move(original));
}

NetnsGuard::~NetnsGuard() {
  if (original_ && ::setns(original_.get(), CLONE_NEWNET) < 0) {
    std::abort();
  }
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace lobster::net::testing
