// What a tenant of each rootfs profile needs, so that a plain `spawn NAME` makes a tenant that
// lives (issue 21: the global 1024 MiB default starved OpenClaw, whose Node processes hold
// ~0.9 GB, and its VMM was OOM-killed). Measured under TCG on the reference host, see
// bench/README.md; the minimal profile has no needs beyond what the config defaults give.
//
//   ProfileSizing s = LOB_TRY(profile_sizing("openclaw"));   // kValidationFailed if unknown
#pragma once

#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace lobster::image {

struct ProfileSizing {
  int64_t min_mem_mb = 0;      // spawn refuses less
  int64_t default_mem_mb = 0;  // used when --mem is not given (and the config's is smaller)
  int64_t default_vcpus = 0;   // likewise for --vcpus
};

// The sizing of `profile` ("minimal" | "openclaw"); kValidationFailed for any other name.
Result<ProfileSizing> profile_sizing(std::string_view profile);

}  // namespace lobster::image
