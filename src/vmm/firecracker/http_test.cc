#include "vmm/firecracker/http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::vmm::firecracker {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(HttpTest, RequestRoundTripsInPieces) {
  const std::string wire = format_request("PUT", "/actions", R"({"action_type":"InstanceStart"})");
  std::string buffer;
  for (size_t i = 0; i + 1 < wire.size(); ++i) {
    buffer.push_back(wire[i]);
    auto partial = parse_request(buffer);
    ASSERT_THAT(partial, IsOk());
    ASSERT_FALSE(partial->has_value()) << "complete after " << i << " bytes";
  }
  buffer.push_back(wire.back());
  auto req = parse_request(buffer);
  ASSERT_THAT(req, IsOk());
  ASSERT_TRUE(req->has_value());
  EXPECT_EQ((*req)->method, "PUT");
  EXPECT_EQ((*req)->target, "/actions");
  EXPECT_EQ((*req)->headers.at("host"), "localhost");
  EXPECT_EQ((*req)->body, R"({"action_type":"InstanceStart"})");
  EXPECT_TRUE(buffer.empty());
}

TEST(HttpTest, ParsesResponsesWithAndWithoutBody) {
  std::string buffer = format_response(204, "") + format_response(400, R"({"fault_message":"x"})");
  auto first = parse_response(buffer);
  ASSERT_THAT(first, IsOk());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->status, 204);
  auto second = parse_response(buffer);
  ASSERT_THAT(second, IsOk());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->status, 400);
  EXPECT_EQ((*second)->body, R"({"fault_message":"x"})");
}

TEST(HttpTest, RejectsMalformedMessages) {
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_THAT(parse_response(chunked), HasError(ErrorCode::kProtocolError));
  std::string bad_status = "HTTP/1.1 abc OK\r\n\r\n";
  EXPECT_THAT(parse_response(bad_status), HasError(ErrorCode::kProtocolError));
  std::string huge(kMaxHeaderBytes + 1, 'a');
  EXPECT_THAT(parse_request(huge), HasError(ErrorCode::kProtocolError));
}

}  // namespace
}  // namespace lobster::vmm::firecracker
