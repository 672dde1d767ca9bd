// A WebSocket connection over a connected TCP socket (RFC 6455): the opening handshake for
// both ends, message reassembly (fragmentation), automatic pong replies, the close handshake,
// and a message size cap. Blocking calls bounded by a deadline (poll(2) on a non-blocking fd).
//
//   auto conn = LOB_TRY(ws::connect_client({.host = "127.0.0.1", .port = 9000}, deadline));
//   LOB_TRY(conn.send_text(R"({"hello":1})", deadline));
//   ws::Message m = LOB_TRY(conn.receive(deadline));
//   if (m.opcode == ws::Opcode::kClose) { /* peer closed; close already answered */ }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "guest/ws/frame.h"
#include "guest/ws/http.h"

namespace lobster::guest::ws {

inline constexpr size_t kDefaultMaxMessage = 16u << 20;

struct Message {
  Opcode opcode = Opcode::kText;  // kText, kBinary, or kClose (peer closed)
  std::string data;               // for kClose: the close reason
  uint16_t close_code = 0;        // for kClose: the status code (1005 if none was sent)
};

class Connection {
 public:
  // `leftover`: bytes that arrived after the HTTP head (already part of the frame stream).
  Connection(UniqueFd fd, Role role, size_t max_message, std::string_view leftover);

  Status send_text(std::string_view text, Deadline deadline);
  Status send_binary(std::string_view data, Deadline deadline);
  Status send_ping(std::string_view data, Deadline deadline);
  // Sends a close frame (once); does not wait for the peer's reply.
  Status send_close(uint16_t code, std::string_view reason, Deadline deadline);

  // The next data message. Pings are answered, pongs skipped; a close from the peer is
  // answered and returned as a kClose message. kProtocolError for framing violations
  // (after sending close 1002), text that is not UTF-8 (1007) and messages over the cap
  // (after close 1009); kExecTimeout
  // at the deadline; kIoFailed / kProtocolError if the socket fails or closes mid-frame.
  Result<Message> receive(Deadline deadline);

  int fd() const { return fd_.get(); }
  bool close_sent() const { return close_sent_; }

 private:
  Status send_frame(Opcode opcode, std::string_view payload, Deadline deadline);
  Result<Frame> next_frame(Deadline deadline);

  UniqueFd fd_;
  Role role_;
  size_t max_message_;
  FrameDecoder decoder_;
  bool close_sent_ = false;
};

struct ClientOptions {
  std::string host = "127.0.0.1";  // numeric IPv4
  uint16_t port = 0;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  size_t max_message = kDefaultMaxMessage;
};

// TCP connect + client opening handshake (validates 101, Upgrade, Connection and
// Sec-WebSocket-Accept). kGatewayUnavailable if the TCP connect fails; kProtocolError for a
// bad handshake (the HTTP status is in the message); kExecTimeout at the deadline.
Result<Connection> connect_client(const ClientOptions& options, Deadline deadline);

// Server side: validates an upgrade request (GET, Upgrade: websocket, Connection: Upgrade,
// Sec-WebSocket-Version: 13, a 16-byte base64 key) and returns the 101 response to send.
// kProtocolError if it is not a valid WebSocket upgrade.
Result<std::string> server_handshake_response(const HttpRequest& request);

// base64(SHA-1(key + RFC 6455 GUID)).
std::string accept_key(std::string_view client_key);

// Puts `fd` in non-blocking mode.
Status set_nonblocking(int fd);

}  // namespace lobster::guest::ws
