#include "host/net/netlink.h"

#include <cstring>

namespace lobster::net {

Result<NetlinkSocket> NetlinkSocket::open() {
  std::unique_ptr<mnl_socket, Closer> sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!sock) {
    return errno_error(ErrorCode::kNetworkFailed, "open rtnetlink socket");
  }
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return errno_error(ErrorCode::kNetworkFailed, "bind rtnetlink socket");
  }
  uint32_t portid = mnl_socket_get_portid(sock.get());
  return NetlinkSocket(std::move(sock), portid);
}

nlmsghdr* NetlinkSocket::start(uint16_t type, uint16_t flags, size_t extra) {
  std::memset(buf_.data(), 0, buf_.size());
  msg_ = mnl_nlmsg_put_header(buf_.data());
  msg_->nlmsg_type = type;
  msg_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  if (extra > 0) {
    mnl_nlmsg_put_extra_header(msg_, extra);
  }
  return msg_;
}

namespace {
int data_cb(const nlmsghdr* nlh, void* data) {
  const auto* fn = static_cast<const NetlinkSocket::MessageFn*>(data);
  if (fn != nullptr && *fn) {
    (*fn)(nlh);
  }
  return MNL_CB_OK;
}
}  // namespace

Status NetlinkSocket::transact(ErrorCode code, const std::string& what, const MessageFn& fn) {
  msg_->nlmsg_flags = static_cast<uint16_t>(msg_->nlmsg_flags | NLM_F_ACK);
  uint32_t seq = seq_++;
  msg_->nlmsg_seq = seq;
  if (mnl_socket_sendto(sock_.get(), msg_, msg_->nlmsg_len) < 0) {
    return errno_error(code, what + " (netlink send)");
  }
  // The request buffer is reused for replies; the request is no longer needed.
  msg_ = nullptr;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(code, what + " (netlink receive)");
    }
    int rc = mnl_cb_run(buf_.data(), static_cast<size_t>(n), seq, portid_, data_cb,
                        const_cast<MessageFn*>(&fn));
    if (rc == MNL_CB_ERROR) {
      return errno_error(code, what);
    }
    if (rc == MNL_CB_STOP) {
      return ok();
    }
  }
}

}  // namespace lobster::net
