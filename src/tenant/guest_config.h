// What a tenant's guest is told at boot: the OpenClaw config derived from the template
// (spec §6.3 step 11) and the config disk (secrets travel only on this 0600 disk, never on
// the kernel command line).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"
#include "image/config_disk.h"
#include "store/types.h"
#include "tenant/ssh_keys.h"

namespace lobster::tenant {

// https://<name>.<domain>[:httpsPort]: where the tenant's gateway and control UI are served.
std::string tenant_origin(const Config& cfg, const std::string& name);

// The OpenClaw settings lobsterd manages for one tenant: a deep copy of openclaw.defaultConfig
// which, when it has a `gateway` object, gets
// - gateway.trustedProxies = [proxy_ip] (exactly the one hop that reaches the gateway: the host
//   side of the tenant's /30) and allowRealIpFallback = false: OpenClaw 2026.9 refuses proxied
//   WebSockets (proxy_attribution_required) unless the proxy is trusted and forwards a client
//   address in X-Forwarded-For, which the proxy overwrites (proxy/caddy_config.h);
// - tenant_origin() added to gateway.controlUi.allowedOrigins (deduplicated) for the control UI;
// - gateway.auth.token when gateway.auth exists.
// lobster-init merges this into the guest's openclaw.json (RFC 7386), so settings made in the
// guest (e.g. with `configure`) survive.
nlohmann::json tenant_openclaw_config(const Config& cfg, const std::string& name,
                                      const std::string& gateway_token,
                                      const std::string& proxy_ip);

struct GuestNetwork {
  std::string address;  // guest IP
  std::string gateway;  // host side of the /30
  int prefix_length = 30;
};

// The tenant's config disk (written by image::write_config_disk).
image::ConfigDisk config_disk_for(const Config& cfg, const store::Tenant& tenant,
                                  const GuestNetwork& net, const SshIdentity& ssh,
                                  int64_t host_time_ms);

// Kernel command line: no secrets, no ip= (the guest reads its address from the config disk).
// softlockup_panic=1 (until lobster-init turns it off) makes a guest that livelocks while
// booting exit within ~20 s so that it is booted again (tenant/boot.h).
inline constexpr std::string_view kGuestCmdline =
    "console=ttyS0 reboot=k panic=1 quiet softlockup_panic=1";

}  // namespace lobster::tenant
