// Guest kernel pieces taken from the host's Debian kernel package: the uncompressed PVH
// `vmlinux` (extracted from /boot/vmlinuz-<ver>) and the few modules the guest initramfs loads
// (virtio, ext4, overlay are modules in Debian's kernel).
//
// Used by the image builder (image build) and by VMM boot tests that need a bootable vmlinux.
//
//   process::PosixProcessRunner runner;
//   LOB_TRY(image::extract_vmlinux(runner, "/boot/vmlinuz-6.1.0-56-amd64", dir + "/vmlinux"));
//   auto order = LOB_TRY(image::collect_modules(runner, "6.1.0-56-amd64",
//                                               image::kGuestModules, dir + "/modules"));
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::image {

enum class Compression { kXz, kZstd, kGzip };

// Where the compressed kernel sits inside a bzImage.
struct KernelPayload {
  size_t offset = 0;  // from the start of the bzImage file
  size_t length = 0;  // compressed bytes, without the kernel build's 4-byte size trailer
  Compression compression = Compression::kXz;
  size_t expected_size = 0;  // uncompressed size from the size trailer; 0 if unknown (gzip)
};

// Modules the guest needs, by module name ('-' and '_' are equivalent); dependencies from
// modules.dep and `pre:` soft dependencies (ext4 -> crc32c) are added by collect_modules.
inline const std::vector<std::string> kGuestModules = {"virtio_mmio", "virtio_blk", "virtio_net",
                                                       "ext4", "overlay"};

// Parses the x86 boot header (setup_sects, payload_offset, payload_length) and identifies the
// payload by its magic. Pure. kImageBuildFailed if `bzimage` is not a bzImage with a known
// payload format.
Result<KernelPayload> locate_payload(std::string_view bzimage);

// Checks that `elf` is an x86-64 ELF image carrying a XEN_ELFNOTE_PHYS32_ENTRY note (the PVH
// entry point both VMMs boot). Pure. kImageBuildFailed otherwise.
Status check_pvh_elf(std::string_view elf);

// Extracts the uncompressed vmlinux from `bzimage_path` (decompressing with the xz / zstd /
// gzip command-line tools), checks it with check_pvh_elf and writes it atomically to
// `out_path` (0644). kIoFailed if the input cannot be read or the output written,
// kImageBuildFailed if the image is not usable, kExecFailed if the decompressor fails.
Status extract_vmlinux(process::ProcessRunner& runner, const std::string& bzimage_path,
                       const std::string& out_path);

// The newest kernel release with both /boot/vmlinuz-<ver> and /lib/modules/<ver>/modules.dep
// under `root` ("" = "/"), e.g. "6.1.0-56-amd64". kPreflightFailed if there is none
// (hint: install linux-image-amd64).
Result<std::string> find_installed_kernel(const std::string& root = "");

// Module load order for `names`: every module after all of its dependencies, each listed once.
// `modules_dep` is the text of modules.dep, `softdeps` the text of modules.softdep and `aliases`
// of modules.alias (used to resolve soft dependencies given as aliases, e.g. crypto-crc32c).
// Returns paths relative to the modules directory as written in modules.dep. Pure.
// kImageBuildFailed if a requested module is unknown.
Result<std::vector<std::string>> resolve_modules(std::string_view modules_dep,
                                                 std::string_view softdeps,
                                                 std::string_view aliases,
                                                 const std::vector<std::string>& names);

// The module name of a modules.dep path: "kernel/fs/ext4/ext4.ko.xz" -> "ext4",
// "crc32c-intel.ko" -> "crc32c_intel".
std::string module_name(std::string_view path);

// Copies the resolved modules from /lib/modules/<kver> (under `root`) into `out_dir` as
// uncompressed `<name>.ko` files (decompressing .ko.xz / .ko.zst / .ko.gz) and writes
// `out_dir/load-order` (one file name per line, dependencies first). Returns the file names in
// load order.
Result<std::vector<std::string>> collect_modules(process::ProcessRunner& runner,
                                                 const std::string& kver,
                                                 const std::vector<std::string>& names,
                                                 const std::string& out_dir,
                                                 const std::string& root = "");

}  // namespace lobster::image
