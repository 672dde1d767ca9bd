#include "guest/ws/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "guest/ws/base64.h"
#include "guest/ws/sha1.h"

namespace lobster::guest::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxHead = 16 * 1024;

Result<std::array<uint8_t, 4>> random_mask() {
  std::array<uint8_t, 4> m{};
  if (::getrandom(m.data(), m.size(), 0) != static_cast<ssize_t>(m.size())) {
    return errno_error(ErrorCode::kInternal, "getrandom for websocket mask");
  }
  return m;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFFu);
  p.append(reason.substr(0, 123));
  return p;
}

}  // namespace

std::string accept_key(std::string_view client_key) {
  Sha1 s;
  s.update(client_key);
  s.update(kGuid);
  Sha1Digest d = s.finish();
  return base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Status set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return errno_error(ErrorCode::kIoFailed, "set socket non-blocking");
  }
  return ok();
}

Connection::Connection(UniqueFd fd, Role role, size_t max_message, std::string_view leftover)
    : fd_(std::move(fd)), role_(role), max_message_(max_message), decoder_(role, max_message) {
  decoder_.feed(leftover);
}

Status Connection::send_frame(Opcode opcode, std::string_view payload, Deadline deadline) {
  std::optional<std::array<uint8_t, 4>> mask;
  if (role_ == Role::kClient) {
    mask = LOB_TRY(random_mask());
  }
  return write_all(fd_.get(), encode_frame(opcode, payload, true, mask), deadline);
}

Status Connection::send_text(std::string_view text, Deadline deadline) {
  return send_frame(Opcode::kText, text, deadline);
}

Status Connection::send_binary(std::string_view data, Deadline deadline) {
  return send_frame(Opcode::kBinary, data, deadline);
}

Status Connection::send_ping(std::string_view data, Deadline deadline) {
  return send_frame(Opcode::kPing, data.substr(0, 125), deadline);
}

Status Connection::send_close(uint16_t code, std::string_view reason, Deadline deadline) {
  if (close_sent_)
    return ok();
  close_sent_ = true;
  return send_frame(Opcode::kClose, close_payload(code, reason), deadline);
}

Result<Frame> Connection::next_frame(Deadline deadline) {
  std::array<char, 16 * 1024> chunk{};
  for (;;) {
    auto frame = decoder_.next();
    if (!frame) {
      (void)send_close(1002, "protocol error", deadline);
      return std::unexpected(frame.error());
    }
    if (frame->has_value())
      return std::move(**frame);
    pollfd p{fd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kIoFailed, "poll websocket");
    }
    if (n == 0)
      return make_error(ErrorCode::kExecTimeout, "timed out waiting for websocket data");
    ssize_t got = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return errno_error(ErrorCode::kIoFailed, "read websocket");
    }
    if (got == 0) {
      return make_error(ErrorCode::kProtocolError, "websocket peer closed the connection");
    }
    decoder_.feed(std::string_view(chunk.data(), static_cast<size_t>(got)));
  }
}

Result<Message> Connection::receive(Deadline deadline) {
  Message msg;
  bool in_message = false;
  for (;;) {
    Frame f = LOB_TRY(next_frame(deadline));
    switch (f.opcode) {
      case Opcode::kPing:
        LOB_TRY(send_frame(Opcode::kPong, f.payload, deadline));
        continue;
      case Opcode::kPong:
        continue;
      case Opcode::kClose: {
        Message closed;
        closed.opcode = Opcode::kClose;
        if (f.payload.size() == 1) {
          (void)send_close(1002, "bad close payload", deadline);
          return make_error(ErrorCode::kProtocolError, "websocket close frame of 1 byte");
        }
        closed.close_code = 1005;
        if (f.payload.size() >= 2) {
          closed.close_code = static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                                    static_cast<uint8_t>(f.payload[1]));
          closed.data = f.payload.substr(2);
        }
        (void)send_close(closed.close_code == 1005 ? 1000 : closed.close_code, "", deadline);
        return closed;
      }
      case Opcode::kContinuation:
        if (!in_message) {
          (void)send_close(1002, "unexpected continuation", deadline);
          return make_error(ErrorCode::kProtocolError, "websocket continuation without a start");
        }
        break;
      case Opcode::kText:
      case Opcode::kBinary:
        if (in_message) {
          (void)send_close(1002, "interleaved message", deadline);
          return make_error(ErrorCode::kProtocolError, "websocket message started mid-message");
        }
        in_message = true;
        msg.opcode = f.opcode;
        break;
    }
    if (msg.data.size() + f.payload.size() > max_message_) {
      (void)send_close(1009, "message too big", deadline);
      return make_error(ErrorCode::kProtocolError, "websocket message exceeds {} bytes",
                        max_message_);
    }
    msg.data += f.payload;
    if (!f.fin)
      continue;
    if (msg.opcode == Opcode::kText && !is_valid_utf8(msg.data)) {
      (void)send_close(1007, "invalid utf-8", deadline);
      return make_error(ErrorCode::kProtocolError, "websocket text message is not valid UTF-8");
    }
    return msg;
  }
}

Result<Connection> connect_client(const ClientOptions& options, Deadline deadline) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (::inet_pton(AF_INET, options.host.c_str(), &addr.sin_addr) != 1) {
    return make_error(ErrorCode::kValidationFailed, "not a numeric IPv4 address: {}", options.host);
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "socket");
  const std::string where = options.host + ":" + std::to_string(options.port);
  // Kernel ABI: sockaddr_in is the IPv4 member of the sockaddr family union.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0) {
    if (errno != EINPROGRESS) {
      return errno_error(ErrorCode::kGatewayUnavailable, "connect " + where);
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int n = 0;
    do {
      n = ::poll(&p, 1, remaining_ms(deadline));
    } while (n < 0 && errno == EINTR);
    if (n == 0)
      return make_error(ErrorCode::kExecTimeout, "timed out connecting to {}", where);
    int err = 0;
    socklen_t len = sizeof(err);
    if (n < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
      return errno_error(ErrorCode::kIoFailed, "connect " + where);
    }
    if (err != 0)
      return make_sys_error(ErrorCode::kGatewayUnavailable, err, "connect " + where);
  }
  int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  std::array<char, 16> raw_key{};
  if (::getrandom(raw_key.data(), raw_key.size(), 0) != static_cast<ssize_t>(raw_key.size())) {
    return errno_error(ErrorCode::kInternal, "getrandom for websocket key");
  }
  const std::string key = base64_encode(std::string_view(raw_key.data(), raw_key.size()));
  std::string req = "GET " + options.path + " HTTP/1.1\r\nHost: " + where +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [name, value] : options.headers) {
    req += name + ": " + value + "\r\n";
  }
  req += "\r\n";
  LOB_TRY(write_all(fd.get(), req, deadline));
  RawHead head = LOB_TRY(read_http_head(fd.get(), deadline, kMaxHead));
  HttpResponseHead resp = LOB_TRY(parse_http_response(head.head));
  if (resp.status != 101) {
    return make_error(ErrorCode::kProtocolError, "websocket upgrade to {} refused: HTTP {} {}",
                      where, resp.status, resp.reason);
  }
  auto upgrade = resp.headers.get("Upgrade");
  if (!upgrade || !iequals(*upgrade, "websocket") ||
      !resp.headers.has_token("Connection", "upgrade")) {
    return make_error(ErrorCode::kProtocolError,
                      "websocket upgrade response lacks Upgrade headers");
  }
  auto accept = resp.headers.get("Sec-WebSocket-Accept");
  if (!accept || *accept != accept_key(key)) {
    return make_error(ErrorCode::kProtocolError, "websocket Sec-WebSocket-Accept mismatch");
  }
  return Connection(std::move(fd), Role::kClient, options.max_message, head.rest);
}

Result<std::string> server_handshake_response(const HttpRequest& request) {
  if (request.method != "GET") {
    return make_error(ErrorCode::kProtocolError, "websocket upgrade must use GET");
  }
  auto upgrade = request.headers.get("Upgrade");
  if (!upgrade || !iequals(*upgrade, "websocket") ||
      !request.headers.has_token("Connection", "upgrade")) {
    return make_error(ErrorCode::kProtocolError, "not a websocket upgrade request");
  }
  auto version = request.headers.get("Sec-WebSocket-Version");
  if (!version || *version != "13") {
    return make_error(ErrorCode::kProtocolError, "unsupported websocket version");
  }
  auto key = request.headers.get("Sec-WebSocket-Key");
  // A base64-encoded 16-byte nonce is always 24 characters ending in "==".
  if (!key || key->size() != 24 || !key->ends_with("==")) {
    return make_error(ErrorCode::kProtocolError, "invalid Sec-WebSocket-Key");
  }
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         accept_key(*key) + "\r\n\r\n";
}

}  // namespace lobster::guest::ws
