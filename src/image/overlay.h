// Per-tenant writable overlay disk (guest-contract.md): a sparse file holding an ext4 file
// system labelled `lobster-ovl` with upper/ and work/ already present, so the guest's early init
// only mounts it. Created once per tenant at spawn; all guest writes land here.
//
//   LOB_TRY(image::create_overlay(runner, paths.overlays_dir() + "/t1.ext4", 1024));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::image {

inline constexpr std::string_view kOverlayLabel = "lobster-ovl";
inline constexpr std::string_view kRootfsLabel = "lobster-root";

// mkfs.ext4 argv for a file system with `label` populated from `source_dir`. `inodes` 0 keeps
// mke2fs's default ratio; `journal` false suits images that are only ever mounted read-only.
// Pure.
std::vector<std::string> mkfs_ext4_argv(const std::string& image, std::string_view label,
                                        const std::string& source_dir, uint64_t inodes = 0,
                                        bool journal = true);

// Creates `path` (mode 0600, must not exist) as a sparse file of `size_mb` MiB and formats it.
// On failure nothing is left behind. kValidationFailed for a size below 16 MiB,
// kOverlayCreateFailed otherwise (child stderr in detail).
Status create_overlay(process::ProcessRunner& runner, const std::string& path, uint64_t size_mb);

}  // namespace lobster::image
