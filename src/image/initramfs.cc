#include "image/initramfs.h"

#include <algorithm>
#include <sstream>

#include "core/fs.h"
#include "image/cpio.h"

namespace lobster::image {
namespace {

// Kept in one raw string so the whole boot logic can be read at once. Every failure prints a
// `lobster-initramfs: FATAL:` line on the console and powers off (the VMM then exits), so a
// broken boot is never mistaken for a slow one.
constexpr std::string_view kInitScript = R"SH(#!/bin/sh
# lobsterd guest early init (see guest-contract.md).
export PATH=/bin
fail() {
  echo "lobster-initramfs: FATAL: $*"
  sync
  poweroff -f
  exit 1
}
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"

# Optional modules may refuse to load (crc32c_intel needs SSE4.2); what matters is checked below.
while read -r m; do
  [ -n "$m" ] || continue
  insmod "/lib/modules/$m" 2>/dev/null || echo "lobster-initramfs: note: insmod $m failed"
done < /lib/modules/load-order
for f in ext4 overlay; do
  grep -qw "$f" /proc/filesystems || fail "file system $f not available"
done

# Disks are found by content: virtio-mmio enumeration order differs between VMMs.
root=""
ovl=""
cfg=""
tries=0
while [ -z "$root" ] || [ -z "$ovl" ] || [ -z "$cfg" ]; do
  [ -z "$root" ] && root=$(findfs LABEL=lobster-root 2>/dev/null)
  [ -z "$ovl" ] && ovl=$(findfs LABEL=lobster-ovl 2>/dev/null)
  if [ -z "$cfg" ]; then
    for d in /sys/block/vd*; do
      dev="/dev/${d##*/}"
      [ -b "$dev" ] || continue
      if [ "$(head -c 12 "$dev" 2>/dev/null | head -n 1)" = "LOBSTERCFG1" ]; then
        cfg="$dev"
      fi
    done
  fi
  tries=$((tries + 1))
  [ "$tries" -gt 100 ] && break
  [ -n "$root" ] && [ -n "$ovl" ] && [ -n "$cfg" ] && break
  usleep 50000
done
[ -n "$root" ] || fail "no disk with label lobster-root"
[ -n "$ovl" ] || fail "no disk with label lobster-ovl"
[ -n "$cfg" ] || fail "no config disk (magic LOBSTERCFG1)"

mkdir -p /mnt/root /mnt/ovl /newroot
mount -t ext4 -o ro "$root" /mnt/root || fail "mount rootfs $root"
mount -t ext4 -o rw,noatime "$ovl" /mnt/ovl || fail "mount overlay disk $ovl"
mkdir -p /mnt/ovl/upper /mnt/ovl/work || fail "prepare overlay disk"
mount -t overlay overlay -o lowerdir=/mnt/root,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work \
  /newroot || fail "mount overlayfs"
[ -x /newroot/sbin/lobster-init ] || fail "rootfs has no /sbin/lobster-init"
for m in dev proc sys; do
  mkdir -p "/newroot/$m"
  mount --move "/$m" "/newroot/$m" || fail "move /$m"
done
export LOBSTER_CONFIG_DEV="$cfg"
echo "lobster-initramfs: ok"
exec switch_root /newroot /sbin/lobster-init
fail "switch_root"
)SH";

}  // namespace

std::string init_script() { return std::string(kInitScript); }

std::string make_initramfs(const InitramfsContents& contents) {
  CpioWriter w;
  for (const char* dir : {"bin", "dev", "proc", "sys", "mnt", "newroot", "lib", "lib/modules"}) {
    w.add_directory(dir, 0755);
  }
  // The kernel opens /dev/console for /init before anything is mounted: without this node the
  // early messages (and the `ok` marker) would be lost.
  w.add_char_device("dev/console", 0600, 5, 1);
  w.add_file("bin/busybox", contents.busybox, 0755);
  for (const auto& applet : contents.applets) {
    if (applet == "busybox" || applet.find('/') != std::string::npos)
      continue;
    w.add_symlink("bin/" + applet, "busybox");
  }
  std::string order;
  for (const auto& [name, data] : contents.modules) {
    w.add_file("lib/modules/" + name, data, 0644);
    order += name + "\n";
  }
  w.add_file("lib/modules/load-order", order, 0644);
  w.add_file("init", kInitScript, 0755);
  return std::move(w).finish();
}

Result<std::string> build_initramfs(process::ProcessRunner& runner, const std::string& busybox,
                                    const std::string& modules_dir, bool gzip) {
  InitramfsContents c;
  c.busybox = LOB_TRY(fs::read_file(busybox));
  const auto list = LOB_TRY(runner.run_checked({busybox, "--list"}));
  std::istringstream applets(list.out);
  for (std::string a; std::getline(applets, a);) {
    if (!a.empty())
      c.applets.push_back(a);
  }
  for (const char* needed : {"sh", "mount", "insmod", "findfs", "switch_root", "usleep"}) {
    if (std::find(c.applets.begin(), c.applets.end(), needed) == c.applets.end()) {
      return make_error(ErrorCode::kImageBuildFailed, "{} has no '{}' applet", busybox, needed);
    }
  }
  const std::string order = LOB_TRY(fs::read_file(modules_dir + "/load-order"));
  std::istringstream names(order);
  for (std::string name; std::getline(names, name);) {
    if (name.empty())
      continue;
    c.modules.emplace_back(name, LOB_TRY(fs::read_file(modules_dir + "/" + name)));
  }
  std::string archive = make_initramfs(c);
  if (!gzip)
    return archive;
  process::RunOptions options;
  options.stdin_data = std::move(archive);
  options.max_output = size_t{1} << 30;
  options.timeout_ms = 120'000;
  auto compressed = LOB_TRY(runner.run_checked({"gzip", "-9", "-n", "-c"}, options));
  return std::move(compressed.out);
}

}  // namespace lobster::image
