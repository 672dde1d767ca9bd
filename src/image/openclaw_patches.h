// Build-time adjustments to the pinned OpenClaw package for emulated (TCG) guests.
//
// OpenClaw 2026.9.6 gives the worker thread that keeps its state-database lease alive a fixed
// 5 s to come up and 1 s to answer each liveness probe. Under QEMU TCG, and more so on a busy
// host, loading that worker (an 866 KB bundle) and its first SQLite transaction take longer, so
// the gateway exits at start-up and is restarted forever. Nothing else depends on these two
// numbers, so the image builder raises them; every edit must match exactly (an OpenClaw update
// that moves them fails the build instead of silently shipping an unpatched gateway).
//
//   LOB_TRY(apply_openclaw_patches(rootfs + "/opt/openclaw/node_modules/openclaw/dist"));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::image {

struct SourcePatch {
  std::string_view from;  // exact text in the package
  std::string_view to;
};

// The patch set applied to every openclaw image; part of the image's recorded inputs, so
// changing it rebuilds existing images.
inline constexpr std::string_view kOpenClawPatchSet = "tcg-startup-budgets-1";
const std::vector<SourcePatch>& openclaw_patches();

// Replaces every occurrence of `p.from` in `text`; returns how many were replaced.
size_t apply_patch(std::string& text, const SourcePatch& p);

// Applies `patches` to every .js/.mjs file below `dir` (rewriting only files that change,
// keeping their mode). kImageBuildFailed if some patch matched nowhere.
Status apply_source_patches(const std::string& dir, const std::vector<SourcePatch>& patches);

inline Status apply_openclaw_patches(const std::string& dist_dir) {
  return apply_source_patches(dist_dir, openclaw_patches());
}

}  // namespace lobster::image
