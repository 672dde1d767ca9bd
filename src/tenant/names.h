// Tenant names and the per-tenant file layout under the state root.
//
// A tenant name is a DNS label (it becomes `<name>.<domain>`): ^[a-z][a-z0-9-]{0,62}$ and no
// trailing hyphen. Nothing on the host is named after the tenant except files under the state
// root; kernel objects (TAP, chains, cgroups) use the store's numeric ids (spec §16 item 27).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/paths.h"

namespace lobster::tenant {

// kValidationFailed with the rule the name breaks.
Status validate_name(std::string_view name);

// Every per-tenant path. All are removed by evict (see teardown.cc).
struct TenantFiles {
  std::string overlay;       // <overlays>/<name>.ext4 (sparse, rw disk)
  std::string config_disk;   // <overlays>/<name>.cfg (raw, ro disk; holds secrets: 0600)
  std::string ssh_dir;       // <ssh>/<name>/ (0700)
  std::string ssh_key;       // <ssh>/<name>/id_ed25519 (0600) and .pub
  std::string known_hosts;   // <ssh>/<name>/known_hosts (pinned guest host key)
  std::string snapshot_dir;  // <snapshots>/<name>/ (0700)
  std::string run_dir;       // <run>/vm/<tap id>/ (QMP / API sockets; short for sun_path)
  std::string chroot_dir;    // <jail>/<name>/
  std::string log_dir;       // <log>/t/<name>/ (console.log, vmm.log)
};
// `slot` is the tenant's TAP id: unique among live tenants and short, so socket paths under
// run_dir stay well below the 108-byte sun_path limit for any tenant name.
TenantFiles files_for(const Paths& paths, const std::string& chroot_base,
                      const std::string& overlay_base, std::string_view name, int64_t slot);

// MAC address for the guest NIC: locally administered, derived from the guest IP so it is
// stable across restarts ("06:00:0a:00:00:06" for 10.0.0.6).
std::string guest_mac(uint32_t guest_ip_host_order);

}  // namespace lobster::tenant
