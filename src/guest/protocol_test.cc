#include "guest/protocol.h"

#include <gtest/gtest.h>

namespace lobster::guest {
namespace {

using State = RequestFramer::State;

TEST(RequestFramer, OneByteWritesAssembleTheLine) {
  RequestFramer f;
  std::string req = R"({"type":"health-ping","token":"t"})";
  req.push_back('\n');
  for (size_t i = 0; i + 1 < req.size(); ++i) {
    ASSERT_EQ(f.feed(req.substr(i, 1)), State::kNeedMore) << i;
  }
  EXPECT_EQ(f.feed("\n"), State::kComplete);
  EXPECT_EQ(f.line(), req.substr(0, req.size() - 1));
}

TEST(RequestFramer, BytesAfterNewlineAreIgnored) {
  RequestFramer f;
  EXPECT_EQ(f.feed("{\"a\":1}\n{\"b\":2}\n"), State::kComplete);
  EXPECT_EQ(f.line(), "{\"a\":1}");
  EXPECT_EQ(f.feed("garbage\n"), State::kComplete);
  EXPECT_EQ(f.feed_eof(), State::kComplete);
  EXPECT_EQ(f.line(), "{\"a\":1}");
}

TEST(RequestFramer, CapIsExactlyOneMiB) {
  RequestFramer ok;
  std::string exact(kMaxRequestBytes, 'x');
  EXPECT_EQ(ok.feed(exact), State::kNeedMore);
  EXPECT_EQ(ok.feed("\n"), State::kComplete);

  RequestFramer big;
  EXPECT_EQ(big.feed(exact), State::kNeedMore);
  EXPECT_EQ(big.feed("y"), State::kTooLarge);
  EXPECT_TRUE(big.line().empty());
  EXPECT_EQ(big.feed("\n"), State::kTooLarge);
}

TEST(RequestFramer, EofWithoutNewlineIsIncomplete) {
  RequestFramer f;
  EXPECT_EQ(f.feed("{\"type\":\"health-ping\"}"), State::kNeedMore);
  EXPECT_EQ(f.feed_eof(), State::kIncomplete);
}

TEST(Protocol, ReplyLinesAreSingleJsonLines) {
  EXPECT_EQ(error_line("unauthorized"), "{\"error\":\"unauthorized\"}\n");
  // Invalid UTF-8 must not throw out of the server.
  std::string line = reply_line(nlohmann::json{{"logs", std::string("\xff\xfe\n")}});
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded());
}

TEST(Protocol, TokenEqualsIsExact) {
  EXPECT_TRUE(token_equals("secret", "secret"));
  EXPECT_FALSE(token_equals("secret", "secreT"));
  EXPECT_FALSE(token_equals("secret", "secret2"));
  EXPECT_FALSE(token_equals("secret", "secre"));
  EXPECT_FALSE(token_equals("secret", ""));
  EXPECT_FALSE(token_equals("", ""));  // unconfigured token fails closed
  EXPECT_FALSE(token_equals("", "anything"));
}

}  // namespace
}  // namespace lobster::guest
