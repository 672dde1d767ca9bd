// Firewall: lobsterd's isolation, NAT and lockdown rules (DESIGN.md "Network", spec §5.3).
//
// The tenant layer calls apply_tenant() in spawn (after the TAP exists) and remove_tenant() in
// evict; the daemon calls reconcile() with every tenant from the store at start-up and from
// the watchdog, so a host reboot or someone flushing our chains restores isolation exactly
// (spec §16 item 11). All rules live in lobsterd's own chains (rules.h); each tenant's rules
// go in or out as ONE atomic batch, so a failure never leaves half a tenant behind.
// The real implementation is IptablesFirewall; testing::FakeFirewall keeps the same state in
// memory.
//
//   LOB_TRY(fw.ensure_base());
//   LOB_TRY(fw.apply_tenant(t));      // idempotent
//   auto report = LOB_TRY(fw.verify(all_tenants));
//   if (!report.clean()) LOB_TRY(fw.reconcile(all_tenants));
#pragma once

#include <vector>

#include "core/error.h"
#include "host/firewall/plan.h"
#include "host/firewall/rules.h"

namespace lobster::firewall {

class Firewall {
 public:
  virtual ~Firewall() = default;

  // Creates the shared chains, puts their jumps first in the builtin chains and enables
  // net.ipv4.ip_forward. Leaves tenant rules alone. Idempotent. kFirewallFailed/kNetworkFailed.
  virtual Status ensure_base() = 0;

  // Installs exactly the tenant's rule set (replacing any partial or outdated version of it)
  // in one atomic batch; needs ensure_base() first. Idempotent. kFirewallFailed: nothing of
  // the batch was applied.
  virtual Status apply_tenant(const TenantNet& tenant) = 0;

  // Removes every rule and chain of the tenant in one atomic batch. A tenant that is not
  // installed is success. kFirewallFailed.
  virtual Status remove_tenant(const TenantNet& tenant) = 0;

  // Compares the kernel's rules with `tenants` (the complete wanted set): missing, duplicate
  // and foreign rules in our chains, stale chains, jumps not first. kFirewallFailed if the
  // state cannot be read.
  virtual Result<Report> verify(const std::vector<TenantNet>& tenants) = 0;

  // Makes the kernel match `tenants` exactly (base chains, jumps, ip_forward, every tenant,
  // nothing else in our chains) with one batch. Running it twice changes nothing the second
  // time. Returns what it found and fixed.
  virtual Result<Report> reconcile(const std::vector<TenantNet>& tenants) = 0;
};

}  // namespace lobster::firewall
