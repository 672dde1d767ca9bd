// NetlinkSocket: one rtnetlink socket (libmnl) with request/ack and dump helpers. Internal to
// host/net (RtnlLinks) and its tests. The socket is bound to the network namespace of the
// thread that opened it.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::net {

class NetlinkSocket {
 public:
  using MessageFn = std::function<void(const nlmsghdr*)>;

  // Opens and binds a NETLINK_ROUTE socket. kNetworkFailed.
  static Result<NetlinkSocket> open();

  // A zeroed message buffer with a header for `type` and `flags` (NLM_F_REQUEST is added) and
  // an extra header of `extra` bytes.
  nlmsghdr* start(uint16_t type, uint16_t flags, size_t extra);

  // Sends the message built by start() with NLM_F_ACK and reads replies until the ack (or
  // NLMSG_DONE for dumps), passing each data message to `fn`. A negative ack becomes
  // `code` with the kernel's errno in sys_errno and `what` as the message.
  Status transact(ErrorCode code, const std::string& what, const MessageFn& fn = {});

 private:
  struct Closer {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
  };
  NetlinkSocket(std::unique_ptr<mnl_socket, Closer> sock, uint32_t portid)
      : sock_(std::move(sock)), portid_(portid), buf_(kBufferSize) {}

  static constexpr size_t kBufferSize = 32768;  // MNL_SOCKET_DUMP_SIZE
  std::unique_ptr<mnl_socket, Closer> sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1;
  std::vector<char> buf_;
  nlmsghdr* msg_ = nullptr;
};

}  // namespace lobster::net
