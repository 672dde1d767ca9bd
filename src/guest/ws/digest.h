// FIPS 180-4 hashing for the guest side (static binaries, no crypto library): the block
// buffering and padding SHA-1 and SHA-256 share, and SHA-256 itself (the test gateway's
// `POST /echo` answers the SHA-256 of the body). Not for secrets: no constant-time claims.
//
//   Sha256 h; h.update("ab"); h.update("c");
//   std::string hex = to_hex(h.finish());  // ba7816bf...
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lobster::guest::ws {

// 64-byte blocks and the Merkle-Damgard padding with a big-endian 64-bit bit length.
class BlockHasher {
 public:
  virtual ~BlockHasher() = default;
  void update(std::string_view data);

 protected:
  // Appends the padding; the last block() call follows.
  void pad();
  virtual void block(const uint8_t* p) = 0;

  template <size_t N>
  static std::array<uint8_t, 4 * N> big_endian(const std::array<uint32_t, N>& words) {
    std::array<uint8_t, 4 * N> out{};
    for (size_t i = 0; i < N; ++i) {
      out[4 * i] = static_cast<uint8_t>(words[i] >> 24);
      out[4 * i + 1] = static_cast<uint8_t>(words[i] >> 16);
      out[4 * i + 2] = static_cast<uint8_t>(words[i] >> 8);
      out[4 * i + 3] = static_cast<uint8_t>(words[i]);
    }
    return out;
  }

 private:
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_len_ = 0;
};

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 final : public BlockHasher {
 public:
  Sha256();
  Sha256Digest finish();

 private:
  void block(const uint8_t* p) override;
  std::array<uint32_t, 8> h_;
};

// Lowercase hex of any digest.
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace lobster::guest::ws
