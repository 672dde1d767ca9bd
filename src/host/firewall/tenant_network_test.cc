#include "host/firewall/tenant_network.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"
#include "host/firewall/testing/fake_firewall.h"
#include "host/net/testing/fake_links.h"

namespace lobster::firewall {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TenantNetworkSpec spec(uint32_t id) {
  auto base = net::parse_ipv4("10.0.0.0").value();
  auto s = net::subnet_for_index(base, id).value();
  return {.net = {.tap_id = id, .host_ip = s.host, .guest_ip = s.guest},
          .uid = 10000 + id,
          .gid = 10000 + id};
}

class TenantNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(fw_.ensure_base(), IsOk()); }
  net::testing::FakeLinks links_;
  testing::FakeFirewall fw_;
};

TEST_F(TenantNetworkTest, SetupCreatesTapAndRules) {
  auto r = setup_tenant_network(links_, fw_, spec(4));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->created);
  auto l = links_.get_link("lt4").value();
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->tun_owner, std::optional<uid_t>(10004));
  EXPECT_EQ(l->addresses[0].first.to_string(), "10.0.0.17");
  EXPECT_TRUE(fw_.installed().contains(4));
  auto again = setup_tenant_network(links_, fw_, spec(4));
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
}

TEST_F(TenantNetworkTest, RuleFailureRemovesTheTapItCreated) {
  fw_.fail_next_for_test(Error{ErrorCode::kFirewallFailed, "batch rejected"});
  EXPECT_THAT(setup_tenant_network(links_, fw_, spec(4)), HasError(ErrorCode::kFirewallFailed));
  EXPECT_EQ(links_.size(), 0U);
  EXPECT_TRUE(fw_.installed().empty());
}

TEST_F(TenantNetworkTest, RuleFailureKeepsAPreexistingTap) {
  ASSERT_THAT(setup_tenant_network(links_, fw_, spec(4)), IsOk());
  fw_.fail_next_for_test(Error{ErrorCode::kFirewallFailed, "batch rejected"});
  EXPECT_THAT(setup_tenant_network(links_, fw_, spec(4)), HasError(ErrorCode::kFirewallFailed));
  EXPECT_EQ(links_.size(), 1U);  // a running VM may hold it: not ours to delete here
}

TEST_F(TenantNetworkTest, TeardownRemovesBothAndIsIdempotent) {
  ASSERT_THAT(setup_tenant_network(links_, fw_, spec(4)), IsOk());
  ASSERT_THAT(teardown_tenant_network(links_, fw_, spec(4).net), IsOk());
  ASSERT_THAT(teardown_tenant_network(links_, fw_, spec(4).net), IsOk());
  EXPECT_EQ(links_.size(), 0U);
  EXPECT_TRUE(fw_.installed().empty());
}

TEST_F(TenantNetworkTest, ReconcileAfterRebootRestoresEverythingAndDropsStrays) {
  ASSERT_THAT(setup_tenant_network(links_, fw_, spec(1)), IsOk());
  ASSERT_THAT(setup_tenant_network(links_, fw_, spec(2)), IsOk());
  ASSERT_THAT(setup_tenant_network(links_, fw_, spec(3)), IsOk());
  links_.add_foreign_link_for_test("eth0", "veth");
  links_.add_foreign_link_for_test("ltx", "dummy");  // not a lobster TAP name
  // Reboot: TAP 1 and all rules gone; tenant 3 was evicted while the daemon was down.
  ASSERT_THAT(links_.delete_link("lt1"), IsOk());
  fw_.flush_for_test();
  auto r = reconcile_network(links_, fw_, {spec(1), spec(2)});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->recreated_taps, std::vector<uint32_t>{1});
  EXPECT_EQ(r->removed_taps, std::vector<std::string>{"lt3"});
  EXPECT_FALSE(r->firewall.clean());
  EXPECT_TRUE(fw_.base_ready());
  EXPECT_EQ(fw_.installed().size(), 2U);
  EXPECT_TRUE(links_.get_link("eth0")->has_value());
  EXPECT_TRUE(links_.get_link("ltx")->has_value());
  auto twice = reconcile_network(links_, fw_, {spec(1), spec(2)});
  ASSERT_THAT(twice, IsOk());
  EXPECT_TRUE(twice->recreated_taps.empty());
  EXPECT_TRUE(twice->removed_taps.empty());
  EXPECT_TRUE(twice->firewall.clean()) << twice->firewall.summary();
}

}  // namespace
}  // namespace lobster::firewall
