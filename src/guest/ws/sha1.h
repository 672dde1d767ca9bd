// SHA-1 (FIPS 180-4), needed only for the WebSocket handshake's Sec-WebSocket-Accept
// (RFC 6455 §4.2.2); libsodium has no SHA-1. Not for any security purpose.
//
//   auto digest = sha1(as_bytes("abc"));  // a9993e36...
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lobster::guest::ws {

using Sha1Digest = std::array<uint8_t, 20>;

class Sha1 {
 public:
  Sha1();
  void update(std::string_view data);
  Sha1Digest finish();

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 5> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_len_ = 0;
};

Sha1Digest sha1(std::string_view data);

}  // namespace lobster::guest::ws
