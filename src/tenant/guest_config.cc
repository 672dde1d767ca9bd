#include "tenant/guest_config.h"

#include "proxy/caddy_config.h"

namespace lobster::tenant {

using nlohmann::json;

std::string tenant_origin(const Config& cfg, const std::string& name) {
  std::string origin = "https://" + proxy::tenant_host(name, cfg.caddy.domain);
  if (cfg.caddy.https_port != 443)
    origin += ":" + std::to_string(cfg.caddy.https_port);
  return origin;
}

json tenant_openclaw_config(const Config& cfg, const std::string& name,
                            const std::string& gateway_token, const std::string& proxy_ip) {
  json c = cfg.openclaw.default_config.is_object() ? cfg.openclaw.default_config : json::object();
  if (!c.contains("gateway") || !c["gateway"].is_object())
    return c;
  json& gw = c["gateway"];
  // Exactly one trusted hop: the host side of this tenant's /30, which is where every proxied
  // connection comes from. The proxy overwrites X-Forwarded-For, so the client address the
  // gateway sees cannot be forged; X-Real-IP is never a fallback.
  gw["trustedProxies"] = json::array({proxy_ip});
  gw["allowRealIpFallback"] = false;
  // The control UI is served at https://<name>.<domain>: its WebSocket's Origin must be allowed.
  if (!gw.contains("controlUi") || !gw["controlUi"].is_object())
    gw["controlUi"] = json::object();
  json& origins = gw["controlUi"]["allowedOrigins"];
  if (!origins.is_array())
    origins = json::array();
  const std::string origin = tenant_origin(cfg, name);
  bool present = false;
  for (const auto& o : origins) present = present || o == origin;
  if (!present)
    origins.push_back(origin);
  if (gw.contains("auth") && gw["auth"].is_object()) {
    gw["auth"]["token"] = gateway_token;
  }
  // Configs written before customBindHost existed: current OpenClaw refuses to start.
  if (gw.value("bind", "") == "custom" && !gw.contains("customBindHost")) {
    gw["customBindHost"] = "0.0.0.0";
  }
  return c;
}

image::ConfigDisk config_disk_for(const Config& cfg, const store::Tenant& t,
                                  const GuestNetwork& net, const SshIdentity& ssh,
                                  int64_t host_time_ms) {
  image::ConfigDisk d;
  d.hostname = t.name;
  d.agent_token = t.agent_token;
  d.gateway_token = t.gateway_token;
  d.address = net.address;
  d.prefix_length = net.prefix_length;
  d.gateway = net.gateway;
  d.dns = {"1.1.1.1", "9.9.9.9"};
  d.ssh_authorized_key = ssh.client_public_key;
  d.ssh_host_key = ssh.host_key_dropbear;
  d.openclaw_config = tenant_openclaw_config(cfg, t.name, t.gateway_token, net.gateway);
  d.agent_port = static_cast<uint16_t>(cfg.vsock.agent_port);
  d.health_port = static_cast<uint16_t>(cfg.vsock.health_port);
  d.host_time_ms = host_time_ms;
  return d;
}

}  // namespace lobster::tenant
