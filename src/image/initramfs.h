// The guest initramfs: busybox-static, the kernel modules the guest needs, and an /init script
// (busybox sh) doing the early boot of guest-contract.md: load modules, find the rootfs
// (LABEL lobster-root), overlay (LABEL lobster-ovl) and config disk (magic LOBSTERCFG1) by
// content, mount rootfs read-only + overlay read-write, overlayfs at /newroot, print
// `lobster-initramfs: ok`, then `switch_root /newroot /sbin/lobster-init` with
// LOBSTER_CONFIG_DEV set to the config disk's /dev path.
//
//   InitramfsContents c{.busybox = LOB_TRY(fs::read_file("/bin/busybox")), ...};
//   std::string cpio = make_initramfs(c);
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::image {

struct InitramfsContents {
  std::string busybox;               // the static busybox binary
  std::vector<std::string> applets;  // applet names to link in /bin (from `busybox --list`)
  // Module file names and contents in load order (dependencies first).
  std::vector<std::pair<std::string, std::string>> modules;
};

// The /init script text (pure; exposed for tests and review).
std::string init_script();

// The uncompressed newc archive. Pure.
std::string make_initramfs(const InitramfsContents& contents);

// Reads busybox, asks it for its applets and reads `modules_dir` (as written by
// collect_modules: *.ko plus load-order), then returns the archive, gzip-compressed if `gzip`.
Result<std::string> build_initramfs(process::ProcessRunner& runner, const std::string& busybox,
                                    const std::string& modules_dir, bool gzip);

}  // namespace lobster::image
