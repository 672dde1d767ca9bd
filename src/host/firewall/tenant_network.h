// A tenant's whole host-side network (TAP + firewall rules) as the tenant layer uses it:
// set up during spawn, torn down during evict, reconciled at daemon start and by the watchdog.
//
//   auto r = LOB_TRY(setup_tenant_network(links, fw, {.net = t, .uid = uid, .gid = gid}));
//   ...
//   LOB_TRY(teardown_tenant_network(links, fw, t));
#pragma once

#include <sys/types.h>

#include <vector>

#include "host/firewall/firewall.h"
#include "host/net/links.h"

namespace lobster::firewall {

struct TenantNetworkSpec {
  TenantNet net;
  uid_t uid = 0;  // the TAP's owner: the tenant's jailed VMM
  gid_t gid = 0;
};

// Ensures the TAP, then the rules. If the rules fail, a TAP this call created is deleted again
// (nothing half-made stays). Idempotent. Errors from Links::ensure_tap / Firewall::apply_tenant.
Result<net::EnsureResult> setup_tenant_network(net::Links& links, Firewall& fw,
                                               const TenantNetworkSpec& spec);

// Removes the rules first (so the guest is never briefly unfiltered), then the TAP. Missing
// pieces are fine.
Status teardown_tenant_network(net::Links& links, Firewall& fw, const TenantNet& tenant);

struct NetworkReconcile {
  std::vector<uint32_t> recreated_taps;   // tap ids whose TAP had to be created: restart the VM
  std::vector<std::string> removed_taps;  // lobster TAPs of tenants that no longer exist
  Report firewall;                        // what the firewall reconcile found and fixed
};

// Makes TAPs and rules match `tenants` exactly: ensures every TAP, deletes "lt<id>" TAPs of
// tenants not listed, then reconciles the firewall (base chains, jumps, ip_forward, rules).
Result<NetworkReconcile> reconcile_network(net::Links& links, Firewall& fw,
                                           const std::vector<TenantNetworkSpec>& tenants);

}  // namespace lobster::firewall
