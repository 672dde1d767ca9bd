#include "image/profiles.h"

#include "image/builder.h"

namespace lobster::image {

Result<ProfileSizing> profile_sizing(std::string_view profile) {
  if (profile == kProfileMinimal) {
    // busybox, dropbear and the test gateway: the kernel and initramfs fit in 128 MiB.
    return ProfileSizing{.min_mem_mb = 128, .default_mem_mb = 0, .default_vcpus = 0};
  }
  if (profile == kProfileOpenclaw) {
    // OpenClaw 2026.9.6's gateway holds ~830-910 MB in its Node processes (DESIGN.md), so
    // 1.5 GiB is the floor; 2 GiB leaves the guest's page cache room. A second vCPU shortens
    // its start-up under TCG.
    return ProfileSizing{.min_mem_mb = 1536, .default_mem_mb = 2048, .default_vcpus = 2};
  }
  return with_hint(Error{ErrorCode::kValidationFailed, "unknown profile \"" + std::string(profile) +
                                                           "\": expected minimal or openclaw"},
                   "pass --profile minimal or --profile openclaw");
}

}  // namespace lobster::image
