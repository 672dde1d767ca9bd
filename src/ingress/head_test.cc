#include "ingress/head.h"

#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::ingress {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

constexpr const char* kDomain = "lobster.localhost";

TEST(IngressHeadTest, RoutesByHostLabel) {
  auto r = route_head("GET /ws?x=1 HTTP/1.1\r\nHost: alice.lobster.localhost\r\n\r\n", kDomain);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->tenant, "alice");
  EXPECT_EQ(r->target, "/ws?x=1");
  EXPECT_EQ(r->method, "GET");
}

TEST(IngressHeadTest, HostIsCaseInsensitiveAndPortIgnored) {
  EXPECT_EQ(*tenant_for_host("Alice.LOBSTER.localhost:443", kDomain), "alice");
  EXPECT_EQ(*tenant_for_host("b-2.lobster.localhost", kDomain), "b-2");
}

TEST(IngressHeadTest, RejectsHostsOutsideTheDomain) {
  EXPECT_THAT(tenant_for_host("alice.example.com", kDomain), HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(tenant_for_host("lobster.localhost", kDomain), HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(tenant_for_host("a.b.lobster.localhost", kDomain),
              HasError(ErrorCode::kTenantNotFound));
  EXPECT_THAT(tenant_for_host("alicelobster.localhost", kDomain),
              HasError(ErrorCode::kTenantNotFound));
}

TEST(IngressHeadTest, RejectsMalformedHosts) {
  for (const char* host :
       {"", ":80", "alice.lobster.localhost:", "alice.lobster.localhost:8x",
        "alice.lobster.localhost:123456", "-a.lobster.localhost", "a-.lobster.localhost",
        "a_b.lobster.localhost", "1a.lobster.localhost", "a%2e.lobster.localhost"}) {
    EXPECT_THAT(tenant_for_host(host, kDomain), HasError(ErrorCode::kValidationFailed)) << host;
  }
}

TEST(IngressHeadTest, RejectsMalformedHeads) {
  EXPECT_THAT(route_head("GET / HTTP/1.1\r\n\r\n", kDomain),
              HasError(ErrorCode::kValidationFailed));  // no Host
  EXPECT_THAT(route_head("GET / HTTP/1.1\r\nHost: a.lobster.localhost\r\nHost: "
                         "b.lobster.localhost\r\n\r\n",
                         kDomain),
              HasError(ErrorCode::kValidationFailed));  // two Hosts
  EXPECT_THAT(route_head("GET /\r\nHost: a.lobster.localhost\r\n\r\n", kDomain),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(route_head("GET / HTTP/2\r\nHost: a.lobster.localhost\r\n\r\n", kDomain),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(route_head("GET / HTTP/1.1\r\nbad header\r\n\r\n", kDomain),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(route_head("", kDomain), HasError(ErrorCode::kValidationFailed));
}

}  // namespace
}  // namespace lobster::ingress
