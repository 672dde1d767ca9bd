#include "proxy/caddy_config.h"

#include <gtest/gtest.h>

#include <regex>

namespace lobster::proxy {
namespace {

using nlohmann::json;

TEST(CaddyConfigTest, TenantRoutesWebSocketFirst) {
  auto routes = tenant_routes({"alice", "10.0.0.6:9000"}, "lobster.localhost");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0]["@id"], "lobster-alice-ws");
  EXPECT_EQ(routes[0]["match"][0]["host"][0], "alice.lobster.localhost");
  EXPECT_EQ(routes[0]["match"][0]["header"]["Connection"][0], "*Upgrade*");
  EXPECT_EQ(routes[1]["@id"], "lobster-alice");
  EXPECT_FALSE(routes[1]["match"][0].contains("header"));
  for (const auto& r : routes) {
    const json& h = r["handle"][0];
    EXPECT_EQ(h["handler"], "reverse_proxy");
    EXPECT_EQ(h["upstreams"][0]["dial"], "10.0.0.6:9000");
    EXPECT_EQ(h["transport"]["dial_timeout"], "3s");
    EXPECT_EQ(h["load_balancing"]["try_duration"], "30s");
    EXPECT_TRUE(r["terminal"].get<bool>());
  }
  // Only the HTTP route closes upstream connections (no pooling); WebSockets must stay open.
  EXPECT_FALSE(routes[0]["handle"][0]["headers"]["request"].contains("set"));
  EXPECT_EQ(routes[1]["handle"][0]["headers"]["request"]["set"]["Connection"][0], "close");
  // Both name a client on this host as 0.0.0.0 instead of a loopback address.
  for (const auto& r : routes) {
    const json& op = r["handle"][0]["headers"]["request"]["replace"]["X-Forwarded-For"][0];
    EXPECT_EQ(op["search_regexp"], kLoopbackPeerPattern);
    EXPECT_EQ(op["replace"], "0.0.0.0");
  }
}

TEST(CaddyConfigTest, LoopbackPeerPatternMatchesOnlyLoopbackPeers) {
  std::regex re(kLoopbackPeerPattern);
  for (const char* peer : {"127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(std::regex_match(peer, re)) << peer;
  for (const char* peer : {"10.0.0.1", "198.51.100.7", "::2", "1127.0.0.1", "127.0.0.1, 10.0.0.1",
                           "2001:db8::1", "::ffff:10.0.0.1"})
    EXPECT_FALSE(std::regex_match(peer, re)) << peer;
}

TEST(CaddyConfigTest, BaseConfigHasAdminSocketAllRoutesAndInternalCa) {
  ProxyOptions o;
  o.domain = "lobster.localhost";
  o.http_port = 8080;
  o.https_port = 8443;
  o.admin_socket = "/r/run/caddy-admin.sock";
  o.storage_dir = "/r/lib/caddy/data";
  json c = base_config(o, {{"a", "10.0.0.6:9000"}, {"b", "10.0.0.10:9000"}});
  EXPECT_EQ(c["admin"]["listen"], "unix//r/run/caddy-admin.sock");
  EXPECT_FALSE(c["admin"]["config"]["persist"].get<bool>());
  EXPECT_EQ(c["storage"]["root"], "/r/lib/caddy/data");
  const json& server = c["apps"]["http"]["servers"]["lobster"];
  EXPECT_EQ(server["listen"], json::array({":8443", ":8080"}));
  ASSERT_EQ(server["routes"].size(), 4u);
  EXPECT_EQ(server["routes"][2]["@id"], "lobster-b-ws");
  EXPECT_EQ(c["apps"]["http"]["https_port"], 8443);
  EXPECT_FALSE(c["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"].get<bool>());
  EXPECT_EQ(c["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"], "internal");
}

TEST(CaddyConfigTest, ProvidedCertificates) {
  ProxyOptions o;
  o.domain = "agents.example.com";
  o.tls_cert_path = "/etc/lobsterd/certs/origin.pem";
  o.tls_key_path = "/etc/lobsterd/certs/origin-key.pem";
  json c = base_config(o, {});
  EXPECT_EQ(c["apps"]["tls"]["certificates"]["load_files"][0]["certificate"],
            "/etc/lobsterd/certs/origin.pem");
  EXPECT_EQ(c["apps"]["http"]["servers"]["lobster"]["tls_connection_policies"].size(), 1u);
  EXPECT_FALSE(c["apps"].contains("pki"));
}

TEST(CaddyConfigTest, PublicDomainUsesAcmeDefaults) {
  ProxyOptions o;
  o.domain = "agents.example.com";
  json c = base_config(o, {});
  EXPECT_FALSE(c["apps"].contains("tls"));
  EXPECT_FALSE(uses_internal_ca("agents.example.com"));
  EXPECT_TRUE(uses_internal_ca("lobster.localhost"));
  EXPECT_TRUE(uses_internal_ca("lobster.local"));
}

}  // namespace
}  // namespace lobster::proxy
