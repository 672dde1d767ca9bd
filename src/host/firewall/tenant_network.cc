#include "host/firewall/tenant_network.h"

#include <set>

#include "core/rollback.h"

namespace lobster::firewall {

namespace {
net::TapSpec tap_spec(const TenantNetworkSpec& s) {
  return net::TapSpec{.name = s.net.tap(),
                      .owner_uid = s.uid,
                      .owner_gid = s.gid,
                      .address = s.net.host_ip,
                      .prefix = net::Subnet::kPrefix};
}
}  // namespace

Result<net::EnsureResult> setup_tenant_network(net::Links& links, Firewall& fw,
                                               const TenantNetworkSpec& spec) {
  Rollback rb("set up network of " + spec.net.tap());
  net::EnsureResult tap = LOB_TRY(links.ensure_tap(tap_spec(spec)));
  if (tap.created) {
    std::string name = spec.net.tap();
    rb.push("delete TAP " + name, [&links, name]() -> Status {
      LOB_TRY(links.delete_link(name));
      return ok();
    });
  }
  LOB_TRY(fw.apply_tenant(spec.net));
  rb.commit();
  return tap;
}

Status teardown_tenant_network(net::Links& links, Firewall& fw, const TenantNet& tenant) {
  LOB_TRY(fw.remove_tenant(tenant));
  LOB_TRY(links.delete_link(tenant.tap()));
  return ok();
}

Result<NetworkReconcile> reconcile_network(net::Links& links, Firewall& fw,
                                           const std::vector<TenantNetworkSpec>& tenants) {
  NetworkReconcile out;
  std::set<std::string> wanted;
  std::vector<TenantNet> nets;
  for (const auto& t : tenants) {
    wanted.insert(t.net.tap());
    nets.push_back(t.net);
    net::EnsureResult r = LOB_TRY(links.ensure_tap(tap_spec(t)));
    if (r.created) {
      out.recreated_taps.push_back(t.net.tap_id);
    }
  }
  // Rules first: the firewall reconcile removes the stale tenants' rules before their TAPs go.
  out.firewall = LOB_TRY(fw.reconcile(nets));
  for (const auto& l : LOB_TRY(links.list_links(net::kTapPrefix))) {
    if (net::parse_tap_id(l.name).has_value() && !wanted.contains(l.name)) {
      LOB_TRY(links.delete_link(l.name));
      out.removed_taps.push_back(l.name);
    }
  }
  return out;
}

}  // namespace lobster::firewall
