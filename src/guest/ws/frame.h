// RFC 6455 §5 frame codec: pure encode/decode, no I/O. Used by Connection for both the
// client (gateway RPC) and the server (lobster-testgw) side.
//
//   FrameDecoder dec(Role::kServer, 1 << 20);
//   dec.feed(bytes);
//   while (auto f = LOB_TRY(dec.next())) handle(*f);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::guest::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Which end of the connection we are: servers must receive masked frames and send unmasked
// ones; clients the reverse (RFC 6455 §5.1).
enum class Role { kClient, kServer };

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::kText;
  std::string payload;  // unmasked
};

bool is_control(Opcode op);

// Strict UTF-8 check (no overlongs, surrogates or code points above U+10FFFF): text messages
// must be valid UTF-8 (RFC 6455 §8.1).
bool is_valid_utf8(std::string_view s);

// Encodes one frame. `mask` is required for client-sent frames and must be absent for
// server-sent ones (the caller picks by role).
std::string encode_frame(Opcode opcode, std::string_view payload, bool fin,
                         std::optional<std::array<uint8_t, 4>> mask);

class FrameDecoder {
 public:
  // `max_payload`: the largest single frame payload accepted (kProtocolError beyond it,
  // checked from the header before any payload is buffered).
  FrameDecoder(Role role, size_t max_payload) : role_(role), max_payload_(max_payload) {}

  void feed(std::string_view bytes);
  // The next complete frame, nullopt if more bytes are needed, or kProtocolError for a
  // violation (reserved bits, unknown opcode, wrong masking, oversized or fragmented control
  // frame, non-minimal length encoding).
  Result<std::optional<Frame>> next();
  // Bytes buffered but not yet consumed.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Role role_;
  size_t max_payload_;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace lobster::guest::ws
