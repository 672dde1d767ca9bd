#include "guest/ws/frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "core/testing/matchers.h"

namespace lobster::guest::ws {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

constexpr std::array<uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) {
    s += static_cast<char>(b);
  }
  return s;
}

// RFC 6455 §5.7 examples.
TEST(FrameTest, EncodesRfcExamples) {
  EXPECT_EQ(encode_frame(Opcode::kText, "Hello", true, std::nullopt),
            bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(encode_frame(Opcode::kText, "Hello", true, kMask),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(encode_frame(Opcode::kText, "Hel", false, std::nullopt),
            bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  EXPECT_EQ(encode_frame(Opcode::kPing, "Hello", true, std::nullopt),
            bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  std::string big = encode_frame(Opcode::kBinary, std::string(256, 'x'), true, std::nullopt);
  EXPECT_EQ(big.substr(0, 4), bytes({0x82, 0x7E, 0x01, 0x00}));
  std::string huge = encode_frame(Opcode::kBinary, std::string(65536, 'x'), true, std::nullopt);
  EXPECT_EQ(huge.substr(0, 10), bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(FrameTest, DecodesMaskedFrameOnServer) {
  FrameDecoder dec(Role::kServer, 1024);
  dec.feed(bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  auto f = dec.next();
  ASSERT_THAT(f, IsOk());
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ((*f)->payload, "Hello");
  EXPECT_TRUE((*f)->fin);
  EXPECT_EQ((*f)->opcode, Opcode::kText);
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(FrameTest, ByteAtATimeRoundTripsAllLengthForms) {
  for (size_t len : {0u, 1u, 125u, 126u, 65535u, 65536u, 70000u}) {
    std::string payload(len, '\0');
    for (size_t i = 0; i < len; ++i) {
      payload[i] = static_cast<char>(i * 7);
    }
    std::string wire = encode_frame(Opcode::kBinary, payload, true, kMask);
    FrameDecoder dec(Role::kServer, 1 << 20);
    std::optional<Frame> got;
    for (size_t i = 0; i < wire.size(); ++i) {
      dec.feed(std::string_view(wire).substr(i, 1));
      auto f = dec.next();
      ASSERT_THAT(f, IsOk());
      if (f->has_value()) {
        EXPECT_EQ(i, wire.size() - 1);
        got = std::move(**f);
      }
      if (len > 1000) {  // Keep the test fast: feed the rest in one go.
        dec.feed(std::string_view(wire).substr(i + 1));
        auto rest = dec.next();
        ASSERT_THAT(rest, IsOk());
        ASSERT_TRUE(rest->has_value());
        got = std::move(**rest);
        break;
      }
    }
    ASSERT_TRUE(got.has_value()) << len;
    EXPECT_EQ(got->payload, payload) << len;
  }
}

TEST(FrameTest, RejectsProtocolViolations) {
  struct Case {
    std::string wire;
    Role role;
  } cases[] = {
      {bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}), Role::kServer},    // unmasked to server
      {encode_frame(Opcode::kText, "x", true, kMask), Role::kClient},   // masked to client
      {bytes({0xC1, 0x00}), Role::kClient},                             // RSV1 set
      {bytes({0x83, 0x00}), Role::kClient},                             // opcode 3
      {bytes({0x09, 0x00}), Role::kClient},                             // fragmented ping
      {bytes({0x89, 0x7E, 0x00, 0x7E}), Role::kClient},                 // ping > 125
      {bytes({0x82, 0x7E, 0x00, 0x05}), Role::kClient},                 // non-minimal 16-bit
      {bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5}), Role::kClient},     // non-minimal 64-bit
      {bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}), Role::kClient},  // 2^63
      {bytes({0x82, 0x7F, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}), Role::kClient},  // over cap
  };
  for (const auto& c : cases) {
    FrameDecoder dec(c.role, 1 << 20);
    dec.feed(c.wire);
    EXPECT_THAT(dec.next(), HasError(ErrorCode::kProtocolError)) << c.wire.size();
  }
}

TEST(FrameTest, OversizedFrameRejectedFromHeaderAlone) {
  FrameDecoder dec(Role::kClient, 100);
  dec.feed(bytes({0x82, 0x7E, 0x01, 0x00}));  // 256 bytes announced, none sent
  EXPECT_THAT(dec.next(), HasError(ErrorCode::kProtocolError));
}

TEST(FrameTest, DecodesSeveralFramesFromOneBuffer) {
  std::string wire = encode_frame(Opcode::kText, "a", false, std::nullopt) +
                     encode_frame(Opcode::kPing, "p", true, std::nullopt) +
                     encode_frame(Opcode::kContinuation, "b", true, std::nullopt);
  FrameDecoder dec(Role::kClient, 1024);
  dec.feed(wire);
  std::vector<std::string> got;
  for (;;) {
    auto f = dec.next();
    ASSERT_THAT(f, IsOk());
    if (!f->has_value())
      break;
    got.push_back((*f)->payload);
  }
  EXPECT_THAT(got, ::testing::ElementsAre("a", "p", "b"));
}

TEST(Utf8Test, AcceptsValidRejectsInvalid) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x9e"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(
      is_valid_utf8("a\x80"
                    "b"));  // stray continuation
}

// Random bytes must never crash the decoder or make it buffer beyond the cap (run under ASan).
TEST(FrameTest, RandomInputFuzz) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 20000; ++iter) {
    FrameDecoder dec(rng() % 2 ? Role::kClient : Role::kServer, 4096);
    std::string input(rng() % 64, '\0');
    for (char& c : input) {
      c = static_cast<char>(rng());
    }
    dec.feed(input);
    for (int k = 0; k < 8; ++k) {
      auto f = dec.next();
      if (!f || !f->has_value())
        break;
      EXPECT_LE((*f)->payload.size(), 4096u);
    }
  }
}

}  // namespace
}  // namespace lobster::guest::ws
