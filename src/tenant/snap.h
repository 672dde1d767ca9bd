// snap: an encrypted, crash-consistent export of a tenant's overlay disk (spec §6.10, fixing
// §16 item 19: the original copied a running disk into an unencrypted tarball holding tokens
// and provider keys). The guest is paused while the disk is read and resumed afterwards.
#pragma once

#include <string>

#include "tenant/env.h"
#include "tenant/snap_file.h"

namespace lobster::tenant {

// Writes the export to `out` ("" = <data>/snaps/<name>-<ms>.snap). Returns its metadata and path.
// Errors: kTenantNotFound, kInvalidState (not active or suspended), kSnapshotFailed.
struct SnapResult {
  std::string path;
  SnapMeta meta;
};
Result<SnapResult> snap(TenantEnv& env, const std::string& name, const std::string& out);

}  // namespace lobster::tenant
