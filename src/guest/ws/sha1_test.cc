#include "guest/ws/sha1.h"

#include <gtest/gtest.h>

#include <string>

#include "guest/ws/base64.h"

namespace lobster::guest::ws {
namespace {

std::string hex(const Sha1Digest& d) { return to_hex(d); }

std::string sha256_hex(std::string_view data, size_t piece) {
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += piece) h.update(data.substr(off, piece));
  return to_hex(h.finish());
}

// FIPS 180-4 example vectors, fed in pieces that straddle block boundaries.
TEST(Sha256Test, FipsVectors) {
  for (size_t piece : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
    EXPECT_EQ(sha256_hex("abc", piece),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", piece),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex("", piece),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a'), 4096),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// RFC 3174 §7.3 test vectors.
TEST(Sha1Test, Rfc3174Vectors) {
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  std::string rep;
  for (int i = 0; i < 80; ++i) {
    rep += "01234567";
  }
  EXPECT_EQ(hex(sha1(rep)), "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

TEST(Sha1Test, EmptyAndIncrementalAgree) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t split = 0; split <= text.size(); ++split) {
    Sha1 s;
    s.update(std::string_view(text).substr(0, split));
    s.update(std::string_view(text).substr(split));
    EXPECT_EQ(hex(s.finish()), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12") << split;
  }
}

// RFC 4648 §10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace lobster::guest::ws
