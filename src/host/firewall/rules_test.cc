#include "host/firewall/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/paths.h"

namespace lobster::firewall {
namespace {

TenantNet tenant7() {
  auto base = net::parse_ipv4("10.0.0.0").value();
  auto s = net::subnet_for_index(base, 7).value();
  return TenantNet{.tap_id = 7, .host_ip = s.host, .guest_ip = s.guest};
}

std::vector<std::string> lines(const RuleSet& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs.rules) {
    out.push_back(r.to_string());
  }
  return out;
}

TEST(RulesTest, DefaultTenantRulesExactly) {
  RuleSet rs = tenant_rules(tenant7(), Options{});
  EXPECT_THAT(rs.chains,
              ::testing::ElementsAre(std::pair{Table::kFilter, std::string("LOB-7-IN")},
                                     std::pair{Table::kFilter, std::string("LOB-7-FWD")},
                                     std::pair{Table::kFilter, std::string("LOB-7-OUT")}));
  EXPECT_THAT(
      lines(rs),
      ::testing::ElementsAre(
          "filter: -A LOB-7-IN -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          "filter: -A LOB-7-IN -j DROP",
          "filter: -A LOB-7-FWD -i lt7 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          "filter: -A LOB-7-FWD ! -s 10.0.0.30/32 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -i lt7 -o lt+ -j DROP",
          "filter: -A LOB-7-FWD -d 10.0.0.0/8 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -d 172.16.0.0/12 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -d 192.168.0.0/16 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -d 169.254.0.0/16 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -d 100.64.0.0/10 -i lt7 -j DROP",
          "filter: -A LOB-7-FWD -i lt7 -m connlimit --connlimit-above 1024 --connlimit-mask 32 "
          "--connlimit-saddr -j DROP",
          "filter: -A LOB-7-FWD -i lt7 -j ACCEPT",
          "filter: -A LOB-7-FWD -o lt7 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          "filter: -A LOB-7-FWD -o lt7 -j DROP",
          "filter: -A LOB-7-OUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
          "filter: -A LOB-7-OUT -p tcp -m multiport --dports 22,52,53,9000 -m owner --uid-owner 0 "
          "-j ACCEPT",
          "filter: -A LOB-7-OUT -p tcp -j REJECT --reject-with tcp-reset",
          "filter: -A LOB-7-OUT -j REJECT --reject-with icmp-port-unreachable",
          "filter: -A LOBSTER-INPUT -i lt7 -j LOB-7-IN",
          "filter: -A LOBSTER-FORWARD -i lt7 -j LOB-7-FWD",
          "filter: -A LOBSTER-FORWARD -o lt7 -j LOB-7-FWD",
          "filter: -A LOBSTER-OUTPUT -o lt7 -j LOB-7-OUT",
          "nat: -A LOBSTER-POSTROUTING -s 10.0.0.30/32 ! -o lt7 -j MASQUERADE"));
}

TEST(RulesTest, NoPublicDnatByDefault) {
  for (const auto& r : tenant_rules(tenant7(), Options{}).rules) {
    EXPECT_EQ(r.spec.find("DNAT"), std::string::npos) << r.to_string();
    EXPECT_NE(r.chain, kPreroutingChain);
  }
}

TEST(RulesTest, OptInPublicPortIsBoundToOneAddress) {
  TenantNet t = tenant7();
  t.public_port = PublicPort{net::parse_ipv4("192.0.2.10").value(), 19007};
  auto l = lines(tenant_rules(t, Options{}));
  EXPECT_THAT(l, ::testing::Contains("nat: -A LOBSTER-PREROUTING -d 192.0.2.10/32 -p tcp -m tcp "
                                     "--dport 19007 -j DNAT --to-destination 10.0.0.30:9000"));
  // Only DNATed connections may pass the inbound drop, and only to the gateway port.
  auto accept = std::find(l.begin(), l.end(),
                          "filter: -A LOB-7-FWD -o lt7 -p tcp -m tcp --dport 9000 -m conntrack "
                          "--ctstate DNAT -j ACCEPT");
  auto drop = std::find(l.begin(), l.end(), "filter: -A LOB-7-FWD -o lt7 -j DROP");
  ASSERT_NE(accept, l.end());
  ASSERT_NE(drop, l.end());
  EXPECT_LT(accept, drop);
}

TEST(RulesTest, ProxyUidLockdownOffAndRateLimits) {
  Options o;
  o.proxy_uid = 998;
  o.agent_lockdown = false;
  o.egress_pps = 1000;
  o.ingress_pps = 2000;
  o.connlimit = 64;
  auto l = lines(tenant_rules(tenant7(), o));
  EXPECT_THAT(l, ::testing::Contains("filter: -A LOB-7-OUT -p tcp -m tcp --dport 9000 -m owner "
                                     "--uid-owner 998 -j ACCEPT"));
  EXPECT_THAT(l, ::testing::Contains("filter: -A LOB-7-OUT -p tcp -m multiport --dports 52,53 "
                                     "-j ACCEPT"));
  EXPECT_THAT(l,
              ::testing::Contains(
                  "filter: -A LOB-7-FWD -i lt7 -m hashlimit --hashlimit-above 1000/sec "
                  "--hashlimit-burst 1000 --hashlimit-mode srcip --hashlimit-name lt7-tx -j DROP"));
  EXPECT_THAT(l,
              ::testing::Contains(
                  "filter: -A LOB-7-FWD -o lt7 -m hashlimit --hashlimit-above 2000/sec "
                  "--hashlimit-burst 2000 --hashlimit-mode dstip --hashlimit-name lt7-rx -j DROP"));
  EXPECT_THAT(l, ::testing::Contains(::testing::HasSubstr("--connlimit-above 64 ")));
  // SSH stays root-only even without agent lockdown (spec §16 item 16).
  for (const auto& line : l) {
    if (line.find("-j ACCEPT") != std::string::npos &&
        line.find("LOB-7-OUT") != std::string::npos &&
        line.find("--uid-owner 0") == std::string::npos) {
      EXPECT_EQ(line.find("22"), std::string::npos) << line;
    }
  }
}

TEST(RulesTest, OrderingInvariants) {
  auto l = lines(tenant_rules(tenant7(), Options{}));
  auto pos = [&l](std::string_view needle) {
    return std::find_if(l.begin(), l.end(),
                        [&](const std::string& s) { return s.find(needle) != std::string::npos; }) -
           l.begin();
  };
  // §5.3: the ESTABLISHED accept must precede the tap DROP, in every chain.
  EXPECT_LT(pos("LOB-7-IN -m conntrack"), pos("LOB-7-IN -j DROP"));
  EXPECT_LT(pos("LOB-7-FWD -i lt7 -m conntrack"), pos("-d 192.168.0.0/16 -i lt7 -j DROP"));
  EXPECT_LT(pos("-d 100.64.0.0/10"), pos("LOB-7-FWD -i lt7 -j ACCEPT"));
  EXPECT_LT(pos("--connlimit-above"), pos("LOB-7-FWD -i lt7 -j ACCEPT"));
  EXPECT_LT(pos("LOB-7-FWD -o lt7 -m conntrack"), pos("LOB-7-FWD -o lt7 -j DROP"));
}

TEST(RulesTest, BatchesCreateAtomicallyAndRemoveCompletely) {
  RuleSet rs = tenant_rules(tenant7(), Options{});
  std::string add = add_batch(rs);
  EXPECT_TRUE(add.starts_with("*filter\n-N LOB-7-IN\n-N LOB-7-FWD\n-N LOB-7-OUT\n-A LOB-7-IN "))
      << add;
  // Dispatch rules come after the chains they jump to are filled.
  EXPECT_GT(add.find("-A LOBSTER-INPUT -i lt7 -j LOB-7-IN"), add.find("-A LOB-7-OUT -j REJECT"));
  EXPECT_TRUE(
      add.ends_with("*nat\n-A LOBSTER-POSTROUTING -s 10.0.0.30/32 ! -o lt7 -j "
                    "MASQUERADE\nCOMMIT\n"))
      << add;
  EXPECT_EQ(remove_batch(rs),
            "*filter\n"
            "-D LOBSTER-INPUT -i lt7 -j LOB-7-IN\n"
            "-D LOBSTER-FORWARD -i lt7 -j LOB-7-FWD\n"
            "-D LOBSTER-FORWARD -o lt7 -j LOB-7-FWD\n"
            "-D LOBSTER-OUTPUT -o lt7 -j LOB-7-OUT\n"
            "-F LOB-7-IN\n-F LOB-7-FWD\n-F LOB-7-OUT\n"
            "-X LOB-7-IN\n-X LOB-7-FWD\n-X LOB-7-OUT\n"
            "COMMIT\n"
            "*nat\n"
            "-D LOBSTER-POSTROUTING -s 10.0.0.30/32 ! -o lt7 -j MASQUERADE\n"
            "COMMIT\n");
}

TEST(RulesTest, ChainNamesFitXtablesLimit) {
  // XT_EXTENSION_MAXNAMELEN is 29 including the NUL.
  EXPECT_LE(tenant_chain(UINT32_MAX, "FWD").size(), 28U);
  EXPECT_LE(std::string("lt4294967295-tx").size(), 15U);  // hashlimit names are short too
}

TEST(RulesTest, OptionsFromConfig) {
  Config c = Config::defaults(Paths::under("/tmp/x"));
  Options o = options_from_config(c);
  EXPECT_TRUE(o.agent_lockdown);
  EXPECT_EQ(o.agent_port, 52);
  EXPECT_EQ(o.egress_pps, std::optional<uint32_t>(1000));  // ops bucket 1000 per 1000 ms
  c.buoy = Config::Buoy{};
  c.buoy->agent_lockdown = false;
  c.firecracker.network_tx_rate_limit.reset();
  o = options_from_config(c);
  EXPECT_FALSE(o.agent_lockdown);
  EXPECT_EQ(o.egress_pps, std::nullopt);
}

}  // namespace
}  // namespace lobster::firewall
