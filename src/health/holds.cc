#include "health/holds.h"

#include <sodium.h>

#include "core/log.h"

namespace lobster::health {
namespace {

std::string random_uuid() {
  unsigned char b[16];
  randombytes_buf(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  for (size_t i = 0; i < sizeof(b); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += fmt::format("{:02x}", b[i]);
  }
  return out;
}

Status check_ttl(int64_t ttl_ms) {
  if (ttl_ms < 1 || ttl_ms > kMaxHoldTtlMs) {
    return make_error(ErrorCode::kValidationFailed, "ttlMs: expected 1..{}, got {}", kMaxHoldTtlMs,
                      ttl_ms);
  }
  return ok();
}

// Tells the guest agent (soft: a suspended or unreachable guest does not fail the hold; the
// store row is what the host scheduler reads).
bool notify_guest(tenant::TenantEnv& env, const store::Tenant& t, const std::string& hold_id,
                  int64_t ttl_ms) {
  if (t.status != store::TenantStatus::kActive)
    return false;
  auto f = tenant::facts_for(env, t);
  if (!f)
    return false;
  agent::AgentClient agent = tenant::agent_for(env, t, *f);
  if (ttl_ms > 0) {
    Status s = agent.hold_acquire(hold_id, ttl_ms);
    if (!s) {
      log::info("health.hold_guest_skipped", {{"tenant", t.name}, {"error", s.error().message}});
    }
    return s.has_value();
  }
  auto r = agent.hold_release(hold_id);
  return r.has_value();
}

Result<HoldResult> put(tenant::TenantEnv& env, const std::string& tenant,
                       const std::string& hold_id, int64_t ttl_ms, const store::Actor& actor) {
  LOB_TRY(check_ttl(ttl_ms));
  store::Tenant t = LOB_TRY(env.store->get_tenant(tenant));
  HoldResult r;
  r.hold = {tenant, hold_id, env.clock->now_ms() + ttl_ms};
  LOB_TRY(env.store->put_hold(r.hold, actor));
  r.guest_notified = notify_guest(env, t, hold_id, ttl_ms);
  return r;
}

}  // namespace

Result<HoldResult> acquire_hold(tenant::TenantEnv& env, const std::string& tenant, int64_t ttl_ms,
                                const store::Actor& actor) {
  return put(env, tenant, random_uuid(), ttl_ms, actor);
}

Result<HoldResult> keep_hold(tenant::TenantEnv& env, const std::string& tenant,
                             const std::string& hold_id, int64_t ttl_ms,
                             const store::Actor& actor) {
  if (hold_id.empty())
    return make_error(ErrorCode::kValidationFailed, "hold id must not be empty");
  return put(env, tenant, hold_id, ttl_ms, actor);
}

Result<bool> release_hold(tenant::TenantEnv& env, const std::string& tenant,
                          const std::string& hold_id, const store::Actor& actor) {
  store::Tenant t = LOB_TRY(env.store->get_tenant(tenant));
  bool existed = LOB_TRY(env.store->release_hold(tenant, hold_id, actor));
  (void)notify_guest(env, t, hold_id, 0);
  return existed;
}

}  // namespace lobster::health
