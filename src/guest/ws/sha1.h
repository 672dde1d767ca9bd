// SHA-1 (FIPS 180-4), needed only for the WebSocket handshake's Sec-WebSocket-Accept
// (RFC 6455 §4.2.2); libsodium has no SHA-1. Not for any security purpose.
//
//   auto digest = sha1(as_bytes("abc"));  // a9993e36...
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "guest/ws/digest.h"

namespace lobster::guest::ws {

using Sha1Digest = std::array<uint8_t, 20>;

class Sha1 final : public BlockHasher {
 public:
  Sha1();
  Sha1Digest finish();

 private:
  void block(const uint8_t* p) override;

  std::array<uint32_t, 5> h_;
};

Sha1Digest sha1(std::string_view data);

}  // namespace lobster::guest::ws
