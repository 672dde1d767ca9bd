// ResidueScanner: lists every trace of lobsterd tenants left on the host for one state root,
// so a test can assert that evict, a failed spawn or crash recovery left nothing behind and,
// when it did not, print exactly what leaked.
//
// It looks at the real host (run it inside the test's private network namespace):
//   processes   qemu whose cmdline mentions the root; any other process mentioning the root
//               except the daemon, Caddy and the ingress named by the root's pid files (a
//               recorded ingress must be alive and be `lobsterd ingress`)
//   network     TAPs lt<id>; iptables (nft and legacy) lines naming LOB-<id>- chains or lt<id>
//   ingress     per-tenant counters the ingress still keeps (GET /v1/activity), Caddy routes
//               naming a tenant (there must be none: Caddy's config is static), and the
//               ingress's sockets while no ingress process is recorded
//   cgroups     vm<id> below the root's parent cgroup (cgroup::parent_name_for), v1 and v2
//   files       lib/overlays, lib/ssh, lib/snapshots, lib/jail, run/vm, run/t, log/t entries
//   sockets     Unix sockets bound below run/vm or run/t (/proc/net/unix)
//   database    tenants rows, allocations and holds rows (sqlite3, read-only)
// Objects of the tenants named in `keep` (looked up in the database) are not residue.
//
//   e2e::ResidueScanner scanner(root.path());
//   auto findings = scanner.scan();
//   EXPECT_TRUE(findings.empty()) << e2e::ResidueScanner::describe(findings);
#pragma once

#include <string>
#include <vector>

namespace lobster::e2e {

class ResidueScanner {
 public:
  explicit ResidueScanner(std::string root) : root_(std::move(root)) {}

  // Human-readable findings ("TAP lt3", "file lib/ssh/t1", ...); empty = clean.
  std::vector<std::string> scan(const std::vector<std::string>& keep = {}) const;

  // Findings one per line, for failure messages.
  static std::string describe(const std::vector<std::string>& findings);

 private:
  std::string root_;
};

}  // namespace lobster::e2e
