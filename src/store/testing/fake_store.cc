#include "store/testing/fake_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

namespace lobster::store {
namespace {

bool is_refusal(ErrorCode code) {
  return code == ErrorCode::kTenantExists || code == ErrorCode::kTenantNotFound ||
         code == ErrorCode::kInvalidState || code == ErrorCode::kResourceExhausted ||
         code == ErrorCode::kValidationFailed;
}

int64_t lowest_free(const std::set<int64_t>& used, int64_t floor) {
  int64_t v = floor;
  while (used.contains(v)) {
    ++v;
  }
  return v;
}

}  // namespace

void FakeStore::fail_next_write_for_test() {
  std::lock_guard lock(mu_);
  fail_next_write_ = true;
}

void FakeStore::audit(const Actor& actor, std::string_view operation, std::string_view tenant,
                      std::string outcome, std::string detail) {
  int64_t id = state_.audit.empty() ? 1 : state_.audit.back().id + 1;
  state_.audit.push_back(AuditEvent{id, clock_.now_ms(), actor.id, std::string(operation),
                                    std::string(tenant), std::move(outcome), std::move(detail)});
}

Status FakeStore::write(const Actor& actor, std::string_view operation, std::string_view tenant,
                        const std::function<Status()>& body) {
  std::lock_guard lock(mu_);
  if (std::exchange(fail_next_write_, false)) {
    return make_error(ErrorCode::kStoreFailed, "{}: injected failure", operation);
  }
  State saved = state_;
  Status result = body();
  if (!result) {
    state_ = std::move(saved);
    if (is_refusal(result.error().code)) {
      audit(actor, operation, tenant, outcome_of(&result.error()), result.error().message);
    }
  }
  return result;
}

Result<Tenant> FakeStore::create_tenant(const NewTenant& in, const AllocationLimits& limits,
                                        const Actor& actor) {
  Tenant out;
  LOB_TRY(write(actor, "tenant.create", in.name, [&]() -> Status {
    LOB_TRY(validate_new_tenant(in));
    LOB_TRY(validate_limits(limits));
    if (state_.tenants.contains(in.name)) {
      return make_error(ErrorCode::kTenantExists, "tenant '{}' already exists", in.name);
    }
    std::set<int64_t> subnets, uids, taps;
    for (const auto& [name, t] : state_.tenants) {
      subnets.insert(t.alloc.subnet_index);
      uids.insert(t.alloc.jail_uid);
      taps.insert(t.alloc.tap_id);
    }
    Allocation alloc{lowest_free(subnets, 1), lowest_free(uids, limits.uid_start),
                     lowest_free(taps, 1)};
    if (alloc.subnet_index > limits.max_subnet_index) {
      return make_error(ErrorCode::kResourceExhausted, "no free subnet index (all {} in use)",
                        limits.max_subnet_index);
    }
    if (alloc.jail_uid >= limits.uid_start + limits.uid_count) {
      return make_error(ErrorCode::kResourceExhausted, "no free jail uid in [{}, {})",
                        limits.uid_start, limits.uid_start + limits.uid_count);
    }
    int64_t now = clock_.now_ms();
    Tenant t{.id = state_.next_tenant_id++,
             .name = in.name,
             .status = in.status,
             .profile = in.profile,
             .vcpus = in.vcpus,
             .mem_mb = in.mem_mb,
             .created_at_ms = now,
             .updated_at_ms = now,
             .intent = in.intent,
             .agent_token = in.agent_token,
             .gateway_token = in.gateway_token,
             .alloc = alloc};
    state_.tenants.emplace(in.name, t);
    audit(actor, "tenant.create", in.name, "ok",
          fmt::format("status={} subnet_index={} jail_uid={} tap_id={}", status_name(in.status),
                      alloc.subnet_index, alloc.jail_uid, alloc.tap_id));
    out = std::move(t);
    return ok();
  }));
  return out;
}

Result<Tenant> FakeStore::get_tenant(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = state_.tenants.find(name);
  if (it == state_.tenants.end()) {
    return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", name);
  }
  return it->second;
}

Result<std::vector<Tenant>> FakeStore::list_tenants() {
  std::lock_guard lock(mu_);
  std::vector<Tenant> out;
  for (const auto& [name, t] : state_.tenants) {
    out.push_back(t);
  }
  return out;
}

Result<Tenant> FakeStore::update_tenant(std::string_view name, const TenantUpdate& update,
                                        const Actor& actor) {
  Tenant out;
  LOB_TRY(write(actor, "tenant.update", name, [&]() -> Status {
    LOB_TRY(validate_update(update));
    auto it = state_.tenants.find(name);
    if (it == state_.tenants.end()) {
      return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", name);
    }
    Tenant& t = it->second;
    LOB_TRY(apply_update(t, update, clock_.now_ms()));
    audit(actor, "tenant.update", t.name, "ok", describe_update(update));
    out = t;
    return ok();
  }));
  return out;
}

Status FakeStore::delete_tenant(std::string_view name,
                                const std::vector<TenantStatus>& expect_status,
                                const Actor& actor) {
  return write(actor, "tenant.delete", name, [&]() -> Status {
    auto it = state_.tenants.find(name);
    if (it == state_.tenants.end()) {
      return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", name);
    }
    const Tenant& t = it->second;
    LOB_TRY(check_status(t, expect_status));
    std::erase_if(state_.holds, [&](const auto& h) { return h.first.first == t.name; });
    audit(
        actor, "tenant.delete", t.name, "ok",
        fmt::format("status={} released subnet_index={} jail_uid={} tap_id={}",
                    status_name(t.status), t.alloc.subnet_index, t.alloc.jail_uid, t.alloc.tap_id));
    state_.tenants.erase(it);
    return ok();
  });
}

Status FakeStore::put_hold(const Hold& hold, const Actor& actor) {
  return write(actor, "hold.put", hold.tenant, [&]() -> Status {
    LOB_TRY(validate_hold(hold));
    if (!state_.tenants.contains(hold.tenant)) {
      return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", hold.tenant);
    }
    state_.holds[{hold.tenant, hold.hold_id}] = hold.expires_at_ms;
    audit(actor, "hold.put", hold.tenant, "ok",
          fmt::format("hold_id={} expires_at_ms={}", hold.hold_id, hold.expires_at_ms));
    return ok();
  });
}

Result<bool> FakeStore::release_hold(std::string_view tenant, std::string_view hold_id,
                                     const Actor& actor) {
  bool removed = false;
  LOB_TRY(write(actor, "hold.release", tenant, [&]() -> Status {
    removed = state_.holds.erase({std::string(tenant), std::string(hold_id)}) > 0;
    if (removed) {
      audit(actor, "hold.release", tenant, "ok", fmt::format("hold_id={}", hold_id));
    }
    return ok();
  }));
  return removed;
}

Result<std::vector<Hold>> FakeStore::list_holds(std::string_view tenant) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.now_ms();
  std::vector<Hold> out;
  for (const auto& [key, expires] : state_.holds) {
    if (expires > now && (tenant.empty() || key.first == tenant)) {
      out.push_back(Hold{key.first, key.second, expires});
    }
  }
  return out;
}

Result<int64_t> FakeStore::prune_expired_holds(const Actor& actor) {
  int64_t removed = 0;
  LOB_TRY(write(actor, "hold.prune", "", [&]() -> Status {
    int64_t now = clock_.now_ms();
    removed = static_cast<int64_t>(
        std::erase_if(state_.holds, [&](const auto& h) { return h.second <= now; }));
    if (removed > 0) {
      audit(actor, "hold.prune", "", "ok", fmt::format("removed {} expired holds", removed));
    }
    return ok();
  }));
  return removed;
}

Result<int64_t> FakeStore::append_audit(const AuditEvent& event) {
  if (event.actor.empty() || event.operation.empty()) {
    return make_error(ErrorCode::kValidationFailed,
                      "audit event: expected non-empty actor and operation");
  }
  int64_t id = 0;
  LOB_TRY(write(Actor{event.actor}, event.operation, event.tenant, [&]() -> Status {
    audit(Actor{event.actor}, event.operation, event.tenant, event.outcome, event.detail);
    if (event.time_ms != 0) {
      state_.audit.back().time_ms = event.time_ms;
    }
    id = state_.audit.back().id;
    return ok();
  }));
  return id;
}

Result<std::vector<AuditEvent>> FakeStore::recent_audit(int64_t limit, std::string_view tenant) {
  if (limit < 1) {
    return make_error(ErrorCode::kValidationFailed, "audit limit: expected >= 1 (got {})", limit);
  }
  std::lock_guard lock(mu_);
  std::vector<AuditEvent> out;
  for (auto it = state_.audit.rbegin();
       it != state_.audit.rend() && std::cmp_less(out.size(), limit); ++it) {
    if (tenant.empty() || it->tenant == tenant) {
      out.push_back(*it);
    }
  }
  return out;
}

Result<int64_t> FakeStore::prune_audit(int64_t keep_latest, const Actor& actor) {
  int64_t removed = 0;
  LOB_TRY(write(actor, "audit.prune", "", [&]() -> Status {
    if (keep_latest < 1) {
      return make_error(ErrorCode::kValidationFailed, "audit keep: expected >= 1 (got {})",
                        keep_latest);
    }
    auto& log = state_.audit;
    if (std::cmp_greater(log.size(), keep_latest)) {
      removed = static_cast<int64_t>(log.size()) - keep_latest;
      log.erase(log.begin(), log.begin() + removed);
    }
    audit(actor, "audit.prune", "", "ok",
          fmt::format("removed {} events, kept {}", removed, keep_latest));
    return ok();
  }));
  return removed;
}

}  // namespace lobster::store
