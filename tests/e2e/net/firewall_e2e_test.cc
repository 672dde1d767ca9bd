// Isolation probe suite (issue 6, done-when 1-4) against the real kernel and iptables-nft.
//
// Everything happens in network namespaces this test creates: a "host" namespace the test
// thread enters, two tenant "guests" (veth peers standing in for VMs), a "LAN host" and an
// "internet" host that also owns one address in each private range. Every blocked-path probe is
// paired with an allowed-path probe so broken networking fails the test instead of passing it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "core/testing/matchers.h"
#include "host/firewall/iptables_firewall.h"
#include "host/net/rtnl_links.h"
#include "host/net/sysctl.h"
#include "host/net/testing/netns.h"
#include "host/process/process.h"
#include "probe.h"

namespace lobster::e2e {
namespace {

using firewall::TenantNet;
using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

constexpr int kTimeoutMs = 400;
constexpr uid_t kNobody = 65534;
constexpr uid_t kProxyUid = 65532;

// Private-range targets owned by the "internet" namespace, reachable from the host.
const std::vector<std::string> kPrivateTargets = {"10.200.0.2", "172.16.5.2", "192.168.5.2",
                                                  "169.254.5.2", "100.64.5.2"};

class FirewallE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOBSTER_REQUIRE_ROOT();
    if (!process::find_executable("iptables-nft-restore") || !process::find_executable("ip")) {
      if (net::testing::running_in_ci()) {
        FAIL() << "iptables-nft-restore and ip are required";
      }
      GTEST_SKIP() << "iptables-nft-restore or ip missing";
    }
    for (auto [ep, name] :
         std::initializer_list<std::pair<std::unique_ptr<NetnsEndpoint>*, const char*>>{
             {&host_, "host"},
             {&g1_, "guest1"},
             {&g2_, "guest2"},
             {&lan_, "lan"},
             {&inet_, "internet"}}) {
      auto e = NetnsEndpoint::create(name);
      ASSERT_THAT(e, IsOk());
      *ep = std::move(*e);
    }
    auto guard = net::testing::NetnsGuard::enter(host_->ns());
    ASSERT_THAT(guard, IsOk());
    in_host_.emplace(std::move(*guard));
    // A new namespace inherits IPv4 settings such as ip_forward from the initial one
    // (net.core.devconf_inherit_init_net): start from a host that does not forward, whatever
    // the machine running the test does.
    ASSERT_THAT(net::ensure_sysctl("/proc/sys", "net/ipv4/ip_forward", "0"), IsOk());

    auto base = net::parse_ipv4("10.0.0.0").value();
    t1_ = TenantNet{.tap_id = 1,
                    .host_ip = net::subnet_for_index(base, 1)->host,
                    .guest_ip = net::subnet_for_index(base, 1)->guest};
    t2_ = TenantNet{
        .tap_id = 2,
        .host_ip = net::subnet_for_index(base, 2)->host,
        .guest_ip = net::subnet_for_index(base, 2)->guest,
        .public_port = firewall::PublicPort{net::parse_ipv4("192.168.77.1").value(), 19002}};
    ASSERT_NO_FATAL_FAILURE(build_topology());
    firewall::IptablesSettings s;
    s.backend = firewall::Backend::kNft;
    s.options.proxy_uid = kProxyUid;
    fw_.emplace(runner_, s);
  }

  void TearDown() override {
    fw_.reset();
    in_host_.reset();  // namespaces (and their veths, chains, conntrack) die with the fds
  }

  void ip(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = runner_.run_checked(argv, {.timeout_ms = 10'000});
    ASSERT_THAT(r, IsOk());
  }
  void in_ns(const NetnsEndpoint& ep, const std::vector<std::vector<std::string>>& cmds) {
    auto g = net::testing::NetnsGuard::enter(ep.ns());
    ASSERT_THAT(g, IsOk());
    for (const auto& c : cmds) {
      ASSERT_NO_FATAL_FAILURE(ip(c));
    }
  }

  void build_topology() {
    auto veth = [&](const std::string& host_if, const NetnsEndpoint& peer) {
      ip({"link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns",
          peer.ns().path()});
    };
    ASSERT_NO_FATAL_FAILURE(veth("lt1", *g1_));
    ASSERT_NO_FATAL_FAILURE(veth("lt2", *g2_));
    ASSERT_NO_FATAL_FAILURE(veth("wan0", *inet_));
    ASSERT_NO_FATAL_FAILURE(veth("lan0", *lan_));
    for (const auto& c :
         std::vector<std::vector<std::string>>{{"addr", "add", "10.0.0.5/30", "dev", "lt1"},
                                               {"addr", "add", "10.0.0.9/30", "dev", "lt2"},
                                               {"addr", "add", "198.51.100.1/24", "dev", "wan0"},
                                               {"addr", "add", "192.168.77.1/24", "dev", "lan0"},
                                               {"link", "set", "lt1", "up"},
                                               {"link", "set", "lt2", "up"},
                                               {"link", "set", "wan0", "up"},
                                               {"link", "set", "lan0", "up"}}) {
      ASSERT_NO_FATAL_FAILURE(ip(c));
    }
    for (const auto& t : kPrivateTargets) {
      ASSERT_NO_FATAL_FAILURE(ip({"route", "add", t + "/32", "via", "198.51.100.2"}));
    }
    auto guest_cmds = [](const std::string& addr, const std::string& gw) {
      return std::vector<std::vector<std::string>>{{"addr", "add", addr, "dev", "eth0"},
                                                   {"link", "set", "eth0", "up"},
                                                   {"route", "add", "default", "via", gw}};
    };
    ASSERT_NO_FATAL_FAILURE(in_ns(*g1_, guest_cmds("10.0.0.6/30", "10.0.0.5")));
    ASSERT_NO_FATAL_FAILURE(in_ns(*g2_, guest_cmds("10.0.0.10/30", "10.0.0.9")));
    // The internet host has no route back to 10/8: replies only work through NAT.
    std::vector<std::vector<std::string>> inet = {{"addr", "add", "198.51.100.2/24", "dev", "eth0"},
                                                  {"link", "set", "eth0", "up"}};
    for (const auto& t : kPrivateTargets) {
      inet.push_back({"addr", "add", t + "/32", "dev", "eth0"});
    }
    ASSERT_NO_FATAL_FAILURE(in_ns(*inet_, inet));
    // The LAN host routes 10/8 via this host (the §16 item 15 attack).
    ASSERT_NO_FATAL_FAILURE(in_ns(*lan_, {{"addr", "add", "192.168.77.2/24", "dev", "eth0"},
                                          {"link", "set", "eth0", "up"},
                                          {"route", "add", "10.0.0.0/8", "via", "192.168.77.1"}}));
    ASSERT_THAT(host_->listen({7000}), IsOk());
    ASSERT_THAT(g1_->listen({22, 52, 53, 9000}), IsOk());
    ASSERT_THAT(g2_->listen({22, 52, 53, 9000}), IsOk());
    ASSERT_THAT(inet_->listen({8080}), IsOk());
    ASSERT_THAT(lan_->listen({8080}), IsOk());
  }

  void set_forward_policy(const std::string& policy) {
    auto r = runner_.run_checked({"iptables-nft", "-P", "FORWARD", policy}, {});
    ASSERT_THAT(r, IsOk());
  }

  void install() {
    ASSERT_THAT(fw_->ensure_base(), IsOk());
    ASSERT_THAT(fw_->apply_tenant(t1_), IsOk());
    ASSERT_THAT(fw_->apply_tenant(t2_), IsOk());
  }

  std::string normalized_save() {
    auto s = fw_->save();
    EXPECT_THAT(s, IsOk());
    return s.has_value() ? firewall::normalize_save(*s) : "";
  }

  // The probe helpers record a failure naming the path.
  void expect(Endpoint& from, const std::string& ip, uint16_t port, bool reachable, uid_t uid = 0) {
    auto r = from.tcp_probe(ip, port, uid, kTimeoutMs);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->outcome == Outcome::kConnected, reachable)
        << from.name() << " (uid " << uid << ") -> " << ip << ":" << port << " was "
        << outcome_name(r->outcome);
  }
  void expect_host(const std::string& ip, uint16_t port, bool reachable, uid_t uid) {
    auto r = tcp_probe_here(ip, port, uid, kTimeoutMs);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->outcome == Outcome::kConnected, reachable)
        << "host (uid " << uid << ") -> " << ip << ":" << port << " was "
        << outcome_name(r->outcome);
  }

  void run_probe_suite() {
    // Guest -> every host address: dropped. Allowed pair: the host listener answers the LAN.
    for (const char* host_ip : {"10.0.0.5", "10.0.0.9", "198.51.100.1", "192.168.77.1"}) {
      expect(*g1_, host_ip, 7000, false);
    }
    expect(*lan_, "192.168.77.1", 7000, true);
    // Guest -> other tenant: blocked both ways. Allowed pair: root on the host reaches it.
    expect(*g1_, "10.0.0.10", 9000, false);
    expect(*g2_, "10.0.0.6", 9000, false);
    expect_host("10.0.0.10", 9000, true, 0);
    // Guest -> private ranges (and the LAN): blocked. Allowed pair: the host reaches them.
    for (const auto& t : kPrivateTargets) {
      expect(*g1_, t, 8080, false);
      expect_host(t, 8080, true, 0);
    }
    expect(*g1_, "192.168.77.2", 8080, false);
    expect_host("192.168.77.2", 8080, true, 0);
    // Guest -> internet: allowed, and the internet host sees the host's address (NAT).
    for (Endpoint* g : {static_cast<Endpoint*>(g1_.get()), static_cast<Endpoint*>(g2_.get())}) {
      auto r = g->tcp_probe("198.51.100.2", 8080, 0, kTimeoutMs);
      ASSERT_THAT(r, IsOk());
      EXPECT_EQ(r->outcome, Outcome::kConnected) << g->name() << " -> internet";
      EXPECT_EQ(r->peer_seen, "198.51.100.1") << "guest egress must be masqueraded";
    }
    // Host users -> guest: SSH, agent and health only for root; gateway for root and proxy.
    for (uint16_t port : {uint16_t{22}, uint16_t{52}, uint16_t{53}}) {
      expect_host("10.0.0.6", port, false, kNobody);
      expect_host("10.0.0.6", port, false, kProxyUid);
      expect_host("10.0.0.6", port, true, 0);
    }
    expect_host("10.0.0.6", 9000, false, kNobody);
    expect_host("10.0.0.6", 9000, true, kProxyUid);
    expect_host("10.0.0.6", 9000, true, 0);
    // LAN host -> guests directly: every NEW connection dropped. Allowed pair: tenant 2's
    // opt-in public port forwards the LAN into its gateway; tenant 1 has none.
    for (uint16_t port : {uint16_t{22}, uint16_t{52}, uint16_t{53}, uint16_t{9000}}) {
      expect(*lan_, "10.0.0.6", port, false);
      expect(*lan_, "10.0.0.10", port, false);
    }
    auto dnat = lan_->tcp_probe("192.168.77.1", 19002, 0, kTimeoutMs);
    ASSERT_THAT(dnat, IsOk());
    EXPECT_EQ(dnat->outcome, Outcome::kConnected) << "opt-in public port of tenant 2";
    EXPECT_EQ(dnat->peer_seen, "192.168.77.2");
    expect(*lan_, "192.168.77.1", 19001, false);
  }

  process::PosixProcessRunner runner_;
  std::unique_ptr<NetnsEndpoint> host_, g1_, g2_, lan_, inet_;
  std::optional<net::testing::NetnsGuard> in_host_;
  std::optional<firewall::IptablesFirewall> fw_;
  TenantNet t1_, t2_;
};

// Done-when 1 and 2: the whole probe suite on a host whose FORWARD policy is DROP.
TEST_F(FirewallE2eTest, ProbeSuiteWithForwardPolicyDrop) {
  ASSERT_NO_FATAL_FAILURE(set_forward_policy("DROP"));
  ASSERT_NO_FATAL_FAILURE(install());
  EXPECT_EQ(net::read_sysctl("/proc/sys", "net/ipv4/ip_forward").value(), "1");
  EXPECT_EQ(fw_->prior_ip_forward(), std::optional<std::string>("0"));
  auto report = fw_->verify({t1_, t2_});
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->clean()) << report->summary();  // our text == iptables-save's text
  run_probe_suite();
}

// Isolation must not depend on the host's policy either way.
TEST_F(FirewallE2eTest, ProbeSuiteWithForwardPolicyAccept) {
  ASSERT_NO_FATAL_FAILURE(install());
  run_probe_suite();
}

// Done-when 3: a failure in the middle of a batch leaves nothing; spawn+evict leaves no trace.
TEST_F(FirewallE2eTest, FailedBatchLeavesNothingAndEvictRestoresState) {
  ASSERT_THAT(fw_->ensure_base(), IsOk());
  ASSERT_THAT(fw_->apply_tenant(t1_), IsOk());
  std::string before = normalized_save();
  auto links = net::RtnlLinks::create();
  ASSERT_THAT(links, IsOk());
  auto links_before = links->list_links("");
  ASSERT_THAT(links_before, IsOk());

  TenantNet t3{.tap_id = 3,
               .host_ip = net::parse_ipv4("10.0.0.13").value(),
               .guest_ip = net::parse_ipv4("10.0.0.14").value()};
  fw_->set_batch_filter_for_test([](std::string batch) {
    size_t mid = batch.find("-A LOB-3-FWD -d 172.16.0.0/12");
    if (mid != std::string::npos) {
      batch.insert(mid, "-A LOB-3-FWD -j LOBSTER-NO-SUCH-CHAIN\n");
    }
    return batch;
  });
  auto failed = fw_->apply_tenant(t3);
  EXPECT_THAT(failed, HasError(ErrorCode::kFirewallFailed));
  EXPECT_EQ(normalized_save(), before) << "a failed batch must leave none of its rules";
  fw_->set_batch_filter_for_test({});

  // Spawn's and evict's network steps: TAP + rules in, rules + TAP out.
  ASSERT_THAT(
      links->ensure_tap(
          {.name = t3.tap(), .owner_uid = 10003, .owner_gid = 10003, .address = t3.host_ip}),
      IsOk());
  ASSERT_THAT(fw_->apply_tenant(t3), IsOk());
  ASSERT_THAT(fw_->apply_tenant(t3), IsOk());  // idempotent: no duplicates
  auto v = fw_->verify({t1_, t3});
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
  ASSERT_THAT(fw_->remove_tenant(t3), IsOk());
  ASSERT_THAT(fw_->remove_tenant(t3), IsOk());  // idempotent
  ASSERT_THAT(links->delete_link(t3.tap()), IsOk());
  EXPECT_EQ(normalized_save(), before);
  EXPECT_EQ(links->list_links("").value(), *links_before);
}

// Done-when 4: flush our chains (or everything, like a reboot), reconcile restores exactly the
// expected rules; a second reconcile changes nothing.
TEST_F(FirewallE2eTest, ReconcileAfterFlushRestoresExactlyAndIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(install());
  std::vector<TenantNet> all = {t1_, t2_};
  // Damage of every kind the verifier knows about.
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"iptables-nft", "-F", "LOB-1-FWD"},
           {"iptables-nft", "-A", "LOBSTER-FORWARD", "-i", "lt2", "-j", "LOB-2-FWD"},
           {"iptables-nft", "-A", "LOBSTER-INPUT", "-p", "tcp", "-j", "ACCEPT"},
           {"iptables-nft", "-I", "OUTPUT", "1", "-o", "lo", "-j", "ACCEPT"},
           {"iptables-nft", "-I", "INPUT", "1", "-i", "lo", "-j", "ACCEPT"},
           {"iptables-nft", "-t", "nat", "-F", "LOBSTER-POSTROUTING"},
           {"iptables-nft", "-N", "LOB-9-FWD"}}) {
    ASSERT_THAT(runner_.run_checked(cmd, {}), IsOk());
  }
  auto damaged = fw_->verify(all);
  ASSERT_THAT(damaged, IsOk());
  std::map<firewall::Finding::Kind, int> kinds;
  for (const auto& f : damaged->findings) {
    ++kinds[f.kind];
  }
  using K = firewall::Finding::Kind;
  EXPECT_GT(kinds[K::kMissingRule], 0) << damaged->summary();
  EXPECT_EQ(kinds[K::kDuplicateRule], 1) << damaged->summary();
  EXPECT_EQ(kinds[K::kForeignRule], 1) << damaged->summary();
  EXPECT_EQ(kinds[K::kJumpNotFirst], 2) << damaged->summary();
  EXPECT_EQ(kinds[K::kStaleChain], 1) << damaged->summary();

  auto first = fw_->reconcile(all);
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->clean());
  auto v = fw_->verify(all);
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
  std::string after_first = normalized_save();
  auto second = fw_->reconcile(all);
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(second->clean()) << second->summary();
  EXPECT_EQ(normalized_save(), after_first);

  // A full flush (what a reboot leaves): everything comes back, and isolation holds again.
  for (const char* table : {"filter", "nat"}) {
    ASSERT_THAT(runner_.run_checked({"iptables-nft", "-t", table, "-F"}, {}), IsOk());
    ASSERT_THAT(runner_.run_checked({"iptables-nft", "-t", table, "-X"}, {}), IsOk());
  }
  ASSERT_THAT(fw_->reconcile(all), IsOk());
  v = fw_->verify(all);
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
  run_probe_suite();
}

// Rate limits and lockdown-off options produce rules the kernel stores exactly as we wrote them.
TEST_F(FirewallE2eTest, OptionalRulesRoundTripThroughTheKernel) {
  firewall::IptablesSettings s;
  s.options.egress_pps = 5000;
  s.options.ingress_pps = 4000;
  s.options.agent_lockdown = false;
  s.options.proxy_uid = kProxyUid;
  firewall::IptablesFirewall fw(runner_, s);
  ASSERT_THAT(fw.ensure_base(), IsOk());
  ASSERT_THAT(fw.apply_tenant(t1_), IsOk());
  ASSERT_THAT(fw.apply_tenant(t2_), IsOk());
  auto v = fw.verify({t1_, t2_});
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
  expect_host("10.0.0.6", 52, true, kNobody);   // lockdown off: agent port open to users
  expect_host("10.0.0.6", 22, false, kNobody);  // SSH stays root-only
  expect_host("10.0.0.6", 22, true, 0);
}

// The backend follows the host's existing firewall: nft on a clean host, legacy when only the
// legacy tables hold rules (else a legacy FORWARD DROP would drop what our nft rules accept).
TEST(BackendTest, DetectFollowsTheExistingFirewall) {
  LOBSTER_REQUIRE_ROOT();
  if (!process::find_executable("iptables-legacy-restore") ||
      !process::find_executable("iptables-nft-restore")) {
    GTEST_SKIP() << "needs both iptables backends installed";
  }
  auto ns = net::testing::Netns::create();
  ASSERT_THAT(ns, IsOk());
  auto in = net::testing::NetnsGuard::enter(*ns);
  ASSERT_THAT(in, IsOk());
  process::PosixProcessRunner runner;
  EXPECT_EQ(firewall::detect_backend(runner).value(), firewall::Backend::kNft);
  ASSERT_THAT(runner.run_checked({"iptables-legacy", "-A", "FORWARD", "-j", "DROP"}, {}), IsOk());
  EXPECT_EQ(firewall::detect_backend(runner).value(), firewall::Backend::kLegacy);
  // Our chains then work on legacy too.
  firewall::IptablesFirewall fw(runner, {.backend = firewall::Backend::kLegacy});
  ASSERT_THAT(fw.ensure_base(), IsOk());
  TenantNet t{.tap_id = 5,
              .host_ip = net::parse_ipv4("10.0.0.21").value(),
              .guest_ip = net::parse_ipv4("10.0.0.22").value()};
  ASSERT_THAT(fw.apply_tenant(t), IsOk());
  auto v = fw.verify({t});
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
  ASSERT_THAT(fw.remove_tenant(t), IsOk());
  v = fw.verify({});
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->clean()) << v->summary();
}

}  // namespace
}  // namespace lobster::e2e
