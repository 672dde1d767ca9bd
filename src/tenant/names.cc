#include "tenant/names.h"

#include <fmt/format.h>

namespace lobster::tenant {

Status validate_name(std::string_view name) {
  auto fail = [&](std::string_view why) {
    return with_hint(Error{ErrorCode::kValidationFailed,
                           fmt::format("invalid tenant name \"{}\": {}", name, why)},
                     "use 1-63 characters: lowercase letters, digits and '-', starting with a "
                     "letter and not ending with '-'");
  };
  if (name.empty() || name.size() > 63)
    return fail("must be 1 to 63 characters");
  if (name.front() < 'a' || name.front() > 'z')
    return fail("must start with a lowercase letter");
  for (char c : name) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!okc)
      return fail("only lowercase letters, digits and '-' are allowed");
  }
  if (name.back() == '-')
    return fail("must not end with '-' (DNS label)");
  return ok();
}

TenantFiles files_for(const Paths& paths, const std::string& chroot_base,
                      const std::string& overlay_base, std::string_view name, int64_t slot) {
  std::string n(name);
  TenantFiles f;
  f.overlay = overlay_base + "/" + n + ".ext4";
  f.config_disk = overlay_base + "/" + n + ".cfg";
  f.ssh_dir = paths.ssh_dir() + "/" + n;
  f.ssh_key = f.ssh_dir + "/id_ed25519";
  f.known_hosts = f.ssh_dir + "/known_hosts";
  f.snapshot_dir = paths.snapshots_dir() + "/" + n;
  f.run_dir = paths.run_dir + "/vm/" + std::to_string(slot);
  f.chroot_dir = chroot_base + "/" + n;
  f.log_dir = paths.tenant_log_dir(n);
  return f;
}

std::string guest_mac(uint32_t ip) {
  return fmt::format("06:00:{:02x}:{:02x}:{:02x}:{:02x}", (ip >> 24) & 0xff, (ip >> 16) & 0xff,
                     (ip >> 8) & 0xff, ip & 0xff);
}

}  // namespace lobster::tenant
