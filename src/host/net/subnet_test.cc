#include "host/net/subnet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "core/testing/matchers.h"

namespace lobster::net {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

Ipv4 ip(std::string_view s) { return parse_ipv4(s).value(); }

TEST(SubnetTest, ParsesAndPrintsDottedQuads) {
  EXPECT_EQ(ip("10.0.0.0").value, 0x0A000000U);
  EXPECT_EQ(ip("255.255.255.255").value, 0xFFFFFFFFU);
  EXPECT_EQ(ip("192.168.1.20").to_string(), "192.168.1.20");
  for (const char* bad : {"", "10.0.0", "10.0.0.0.0", "256.0.0.1", "01.0.0.1", "1..2.3", "a.b.c.d",
                          "10.0.0.1 ", "-1.0.0.0"}) {
    EXPECT_THAT(parse_ipv4(bad), HasError(ErrorCode::kValidationFailed)) << bad;
  }
}

TEST(SubnetTest, SpecExamples) {
  // Spec §4: first tenant (index 1) host 10.0.0.5 guest 10.0.0.6; second .9/.10;
  // index 63 -> .253/.254; index 64 -> 10.0.1.1/10.0.1.2.
  struct Case {
    uint32_t index;
    const char* host;
    const char* guest;
  };
  for (auto c : {Case{1, "10.0.0.5", "10.0.0.6"}, Case{2, "10.0.0.9", "10.0.0.10"},
                 Case{63, "10.0.0.253", "10.0.0.254"}, Case{64, "10.0.1.1", "10.0.1.2"}}) {
    auto s = subnet_for_index(ip("10.0.0.0"), c.index);
    ASSERT_THAT(s, IsOk());
    EXPECT_EQ(s->host.to_string(), c.host) << c.index;
    EXPECT_EQ(s->guest.to_string(), c.guest) << c.index;
    EXPECT_EQ(s->network.value + 4, subnet_for_index(ip("10.0.0.0"), c.index + 1)->network.value);
  }
}

TEST(SubnetTest, MaxIndexIsBoundedByTheBlock) {
  EXPECT_EQ(max_index(ip("10.0.0.0")).value(), (1U << 22) - 1);
  EXPECT_EQ(max_index(ip("192.168.0.0")).value(), (1U << 14) - 1);
  EXPECT_EQ(max_index(ip("192.168.255.248")).value(), 1U);
  EXPECT_EQ(max_index(ip("100.64.0.0")).value(), (1U << 20) - 1);
  EXPECT_EQ(max_index(ip("172.31.255.252")).value(), 0U);

  auto last = subnet_for_index(ip("192.168.0.0"), (1U << 14) - 1);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(last->guest.to_string(), "192.168.255.254");
  EXPECT_THAT(subnet_for_index(ip("192.168.0.0"), 1U << 14),
              HasError(ErrorCode::kResourceExhausted));
  EXPECT_THAT(subnet_for_index(ip("10.0.0.0"), std::numeric_limits<uint32_t>::max()),
              HasError(ErrorCode::kResourceExhausted));
}

TEST(SubnetTest, RejectsPublicOrUnalignedBase) {
  EXPECT_THAT(subnet_for_index(ip("8.8.8.0"), 1), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(subnet_for_index(ip("10.0.0.2"), 1), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(max_index(ip("172.32.0.0")), HasError(ErrorCode::kValidationFailed));
}

TEST(SubnetTest, TapNamesAlwaysFitIfnamsiz) {
  EXPECT_EQ(tap_name(7), "lt7");
  EXPECT_EQ(tap_name(std::numeric_limits<uint32_t>::max()), "lt4294967295");
  for (uint32_t id : {0U, 1U, 99U, 4194303U, std::numeric_limits<uint32_t>::max()}) {
    EXPECT_TRUE(valid_ifname(tap_name(id)));
    EXPECT_LE(tap_name(id).size(), kMaxIfName);
  }
}

TEST(SubnetTest, TapNameDoesNotDependOnTenantName) {
  // A 63-character tenant name (the longest DNS label) broke the original ("tap-<name>" is
  // limited to 15 bytes); names here come from the store's numeric TAP id only.
  std::string long_name(63, 'a');
  EXPECT_FALSE(valid_ifname("tap-" + long_name));
  EXPECT_TRUE(valid_ifname(tap_name(4194303U)));
}

TEST(SubnetTest, ParseTapIdRoundTrips) {
  for (uint32_t id : {0U, 7U, 4294967295U}) {
    EXPECT_EQ(parse_tap_id(tap_name(id)), id);
  }
  for (const char* bad : {"lt", "lt01", "lt-1", "ltx", "lt4294967296", "eth0", "lt1a"}) {
    EXPECT_EQ(parse_tap_id(bad), std::nullopt) << bad;
  }
}

TEST(SubnetTest, ValidIfname) {
  EXPECT_TRUE(valid_ifname("lt1"));
  EXPECT_TRUE(valid_ifname("abcdefghijklmno"));
  EXPECT_FALSE(valid_ifname("abcdefghijklmnop"));
  EXPECT_FALSE(valid_ifname(""));
  EXPECT_FALSE(valid_ifname("a/b"));
  EXPECT_FALSE(valid_ifname("a b"));
  EXPECT_FALSE(valid_ifname(".."));
}

}  // namespace
}  // namespace lobster::net
