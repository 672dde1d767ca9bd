// Holds (spec §9.6): a lease that keeps a tenant from being auto-suspended while a CLI session
// (exec, configure, devices) uses it. The daemon records the hold in the store (what the
// scheduler consults) and forwards it to the guest agent, which counts it as activity (the
// agent's part is soft: a guest that cannot be reached does not fail the hold). A crashed
// client's hold expires after its TTL; clients renew it every 120 s.
//
//   Hold h = LOB_TRY(acquire_hold(env, "alice", kHoldTtlMs, actor));
//   LOB_TRY(keep_hold(env, "alice", h.hold_id, kHoldTtlMs, actor));   // every 120 s
//   LOB_TRY(release_hold(env, "alice", h.hold_id, actor));
#pragma once

#include <string>

#include "store/types.h"
#include "tenant/env.h"

namespace lobster::health {

inline constexpr int64_t kHoldTtlMs = 300'000;
inline constexpr int64_t kHoldKeepaliveMs = 120'000;
inline constexpr int64_t kMaxHoldTtlMs = 3'600'000;

struct HoldResult {
  store::Hold hold;
  bool guest_notified = false;  // the agent accepted hold-acquire / hold-release
};

// New random hold id (UUID v4 text), expiring ttl_ms from now. Errors: kTenantNotFound,
// kValidationFailed (ttl outside 1 ms .. 1 h), store errors.
Result<HoldResult> acquire_hold(tenant::TenantEnv& env, const std::string& tenant, int64_t ttl_ms,
                                const store::Actor& actor);

// Renews a hold (recreates it if it had already expired, so a client that was slow to renew
// is covered again). Errors as acquire_hold, plus kValidationFailed for an empty hold id.
Result<HoldResult> keep_hold(tenant::TenantEnv& env, const std::string& tenant,
                             const std::string& hold_id, int64_t ttl_ms, const store::Actor& actor);

// Releases a hold; releasing an unknown hold is success (idempotent). Returns whether it existed.
Result<bool> release_hold(tenant::TenantEnv& env, const std::string& tenant,
                          const std::string& hold_id, const store::Actor& actor);

}  // namespace lobster::health
