#include "proxy/caddy_config.h"

#include <gtest/gtest.h>

// GCC 12 with -fsanitize=address,undefined reports a false -Wmaybe-uninitialized inside
// libstdc++'s <regex> (std::function in its NFA states); the release build does not.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

namespace lobster::proxy {
namespace {

using nlohmann::json;

TEST(CaddyConfigTest, ForwardedHeadersAreCaddysNotTheClients) {
  json h = forwarded_header_policy();
  // A client on this host is named 0.0.0.0 instead of a loopback address.
  const json& op = h["replace"]["X-Forwarded-For"][0];
  EXPECT_EQ(op["search_regexp"], kLoopbackPeerPattern);
  EXPECT_EQ(op["replace"], "0.0.0.0");
  EXPECT_EQ(h["delete"], json::array({"Forwarded", "X-Real-IP"}));
}

TEST(CaddyConfigTest, LoopbackPeerPatternMatchesOnlyLoopbackPeers) {
  std::regex re(kLoopbackPeerPattern);
  for (const char* peer : {"127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(std::regex_match(peer, re)) << peer;
  for (const char* peer : {"10.0.0.1", "198.51.100.7", "::2", "1127.0.0.1", "127.0.0.1, 10.0.0.1",
                           "2001:db8::1", "::ffff:10.0.0.1"})
    EXPECT_FALSE(std::regex_match(peer, re)) << peer;
}

TEST(CaddyConfigTest, BaseConfigIsOneWildcardSiteToTheIngress) {
  ProxyOptions o;
  o.domain = "lobster.localhost";
  o.http_port = 8080;
  o.https_port = 8443;
  o.admin_socket = "/r/run/caddy-admin.sock";
  o.storage_dir = "/r/lib/caddy/data";
  o.ingress_socket = "/r/run/ingress.sock";
  json c = base_config(o);
  EXPECT_EQ(c["admin"]["listen"], "unix//r/run/caddy-admin.sock");
  EXPECT_FALSE(c["admin"]["config"]["persist"].get<bool>());
  EXPECT_EQ(c["storage"]["root"], "/r/lib/caddy/data");
  const json& server = c["apps"]["http"]["servers"]["lobster"];
  EXPECT_EQ(server["listen"], json::array({":8443", ":8080"}));
  ASSERT_EQ(server["routes"].size(), 2u);
  EXPECT_EQ(server["routes"][0]["match"][0]["host"], json::array({"*.lobster.localhost"}));
  const json& h = server["routes"][0]["handle"][0];
  EXPECT_EQ(h["handler"], "reverse_proxy");
  EXPECT_EQ(h["upstreams"][0]["dial"], "unix//r/run/ingress.sock");
  // One upstream connection per request: the ingress routes by a connection's first head.
  EXPECT_FALSE(h["transport"]["keep_alive"]["enabled"].get<bool>());
  EXPECT_EQ(h["headers"]["request"], forwarded_header_policy());
  EXPECT_EQ(server["routes"][1]["handle"][0]["status_code"], 404);
  EXPECT_EQ(c["apps"]["http"]["https_port"], 8443);
  EXPECT_FALSE(c["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"].get<bool>());
  EXPECT_EQ(c["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"], "internal");
}

TEST(CaddyConfigTest, ProvidedCertificates) {
  ProxyOptions o;
  o.domain = "agents.example.com";
  o.tls_cert_path = "/etc/lobsterd/certs/origin.pem";
  o.tls_key_path = "/etc/lobsterd/certs/origin-key.pem";
  json c = base_config(o);
  EXPECT_EQ(c["apps"]["tls"]["certificates"]["load_files"][0]["certificate"],
            "/etc/lobsterd/certs/origin.pem");
  EXPECT_EQ(c["apps"]["http"]["servers"]["lobster"]["tls_connection_policies"].size(), 1u);
  EXPECT_FALSE(c["apps"].contains("pki"));
}

TEST(CaddyConfigTest, PublicDomainGetsCertificatesOnDemandForTenantsOnly) {
  ProxyOptions o;
  o.domain = "agents.example.com";
  o.ask_port = 7123;
  json c = base_config(o);
  EXPECT_EQ(c["apps"]["tls"]["automation"]["on_demand"]["ask"], "http://127.0.0.1:7123/v1/ask");
  EXPECT_EQ(c["apps"]["tls"]["automation"]["policies"][0]["subjects"][0], "*.agents.example.com");
  EXPECT_TRUE(c["apps"]["tls"]["automation"]["policies"][0]["on_demand"].get<bool>());
  EXPECT_TRUE(uses_on_demand_tls(o));
  o.tls_cert_path = "/c.pem";
  o.tls_key_path = "/k.pem";
  EXPECT_FALSE(uses_on_demand_tls(o));
  EXPECT_FALSE(uses_internal_ca("agents.example.com"));
  EXPECT_TRUE(uses_internal_ca("lobster.localhost"));
  EXPECT_TRUE(uses_internal_ca("lobster.local"));
}

}  // namespace
}  // namespace lobster::proxy
