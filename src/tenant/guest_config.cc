#include "tenant/guest_config.h"

#include <sodium.h>

#include <cstring>

namespace lobster::tenant {

using nlohmann::json;

json tenant_openclaw_config(const Config& cfg, const std::string& name,
                            const std::string& gateway_token) {
  json c = cfg.openclaw.default_config.is_object() ? cfg.openclaw.default_config : json::object();
  if (c.contains("gateway") && c["gateway"].is_object()) {
    json& gw = c["gateway"];
    if (gw.contains("controlUi") && gw["controlUi"].is_object()) {
      json& origins = gw["controlUi"]["allowedOrigins"];
      if (!origins.is_array())
        origins = json::array();
      std::string origin = "https://" + name + "." + cfg.caddy.domain;
      bool present = false;
      for (const auto& o : origins) present = present || o == origin;
      if (!present)
        origins.push_back(origin);
    }
    if (gw.contains("auth") && gw["auth"].is_object())
      gw["auth"]["token"] = gateway_token;
  }
  return c;
}

namespace {
std::string base64(const std::string& bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}
}  // namespace

json config_disk_document(const Config& cfg, const store::Tenant& t, const GuestNetwork& net,
                          const SshIdentity& ssh, int64_t host_time_ms) {
  return {
      {"version", 1},
      {"hostname", t.name},
      {"agentToken", t.agent_token},
      {"gatewayToken", t.gateway_token},
      {"network",
       {{"address", net.address},
        {"prefixLength", net.prefix_length},
        {"gateway", net.gateway},
        {"dns", json::array({"1.1.1.1", "9.9.9.9"})}}},
      {"ssh",
       {{"authorizedKey", ssh.client_public_key},
        {"hostKeyDropbear", base64(ssh.host_key_dropbear)}}},
      {"openclawConfig", tenant_openclaw_config(cfg, t.name, t.gateway_token)},
      {"agentPort", cfg.vsock.agent_port},
      {"healthPort", cfg.vsock.health_port},
      {"hostTimeMs", host_time_ms},
  };
}

std::string guest_cmdline() { return "console=ttyS0 reboot=k panic=1 quiet"; }

}  // namespace lobster::tenant
