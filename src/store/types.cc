#include "store/types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <utility>

namespace lobster::store {
namespace {

constexpr std::array<std::pair<TenantStatus, std::string_view>, 7> kStatusNames{{
    {TenantStatus::kCreating, "creating"},
    {TenantStatus::kActive, "active"},
    {TenantStatus::kSuspending, "suspending"},
    {TenantStatus::kSuspended, "suspended"},
    {TenantStatus::kResuming, "resuming"},
    {TenantStatus::kRemoving, "removing"},
    {TenantStatus::kFailed, "failed"},
}};

constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxHoldIdLength = 128;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name[0] < 'a' || name[0] > 'z') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Status validate_json_text(std::string_view field, const std::string& text) {
  if (!text.empty() && !nlohmann::json::accept(text)) {
    return make_error(ErrorCode::kValidationFailed, "{}: expected empty or a JSON document", field);
  }
  return ok();
}

}  // namespace

std::string_view status_name(TenantStatus status) {
  switch (status) {
    case TenantStatus::kCreating:
    case TenantStatus::kActive:
    case TenantStatus::kSuspending:
    case TenantStatus::kSuspended:
    case TenantStatus::kResuming:
    case TenantStatus::kRemoving:
    case TenantStatus::kFailed:
      return kStatusNames[static_cast<size_t>(status)].second;
  }
  return "unknown";
}

Result<TenantStatus> status_from_name(std::string_view name) {
  for (const auto& [status, text] : kStatusNames) {
    if (text == name) {
      return status;
    }
  }
  return make_error(ErrorCode::kValidationFailed, "unknown tenant status '{}'", name);
}

Actor Actor::uid(uid_t uid) { return Actor{fmt::format("uid:{}", uid)}; }
Actor Actor::token(std::string_view token_id) { return Actor{fmt::format("token:{}", token_id)}; }
Actor Actor::daemon() { return Actor{"daemon"}; }

std::string outcome_of(const Error* error) {
  return error == nullptr ? std::string("ok") : std::string(code_name(error->code));
}

Status validate_new_tenant(const NewTenant& tenant) {
  if (!valid_name(tenant.name)) {
    return make_error(ErrorCode::kValidationFailed,
                      "name '{}': expected ^[a-z][a-z0-9_-]*$ with at most {} characters",
                      tenant.name, kMaxNameLength);
  }
  if (tenant.profile.empty()) {
    return make_error(ErrorCode::kValidationFailed, "profile: expected a non-empty string");
  }
  if (tenant.vcpus < 1 || tenant.mem_mb < 1) {
    return make_error(ErrorCode::kValidationFailed, "vcpus/mem_mb: expected >= 1 (got {}/{})",
                      tenant.vcpus, tenant.mem_mb);
  }
  if (tenant.agent_token.empty() || tenant.gateway_token.empty()) {
    return make_error(ErrorCode::kValidationFailed, "tokens: expected non-empty strings");
  }
  return validate_json_text("intent", tenant.intent);
}

Status validate_limits(const AllocationLimits& limits) {
  if (limits.max_subnet_index < 1 || limits.uid_start < 1 || limits.uid_count < 1) {
    return make_error(ErrorCode::kValidationFailed,
                      "allocation limits: expected max_subnet_index, uid_start, uid_count >= 1 "
                      "(got {}, {}, {})",
                      limits.max_subnet_index, limits.uid_start, limits.uid_count);
  }
  return ok();
}

Status validate_update(const TenantUpdate& update) {
  if (update.intent) {
    LOB_TRY(validate_json_text("intent", *update.intent));
  }
  if (update.suspend_info) {
    LOB_TRY(validate_json_text("suspend_info", *update.suspend_info));
  }
  if ((update.agent_token && update.agent_token->empty()) ||
      (update.gateway_token && update.gateway_token->empty())) {
    return make_error(ErrorCode::kValidationFailed, "tokens: expected non-empty strings");
  }
  if (update.vm && !update.clear_vm && update.vm->pid < 1) {
    return make_error(ErrorCode::kValidationFailed, "vm.pid: expected >= 1 (got {})",
                      update.vm->pid);
  }
  return ok();
}

Status check_status(const Tenant& t, const std::vector<TenantStatus>& expect) {
  if (expect.empty() || std::ranges::find(expect, t.status) != expect.end()) {
    return ok();
  }
  std::string wanted;
  for (TenantStatus s : expect) {
    wanted += wanted.empty() ? "" : "|";
    wanted += status_name(s);
  }
  return make_error(ErrorCode::kInvalidState, "tenant '{}' is {} (expected {})", t.name,
                    status_name(t.status), wanted);
}

Status apply_update(Tenant& t, const TenantUpdate& update, int64_t now_ms) {
  LOB_TRY(check_status(t, update.expect_status));
  t.status = update.status.value_or(t.status);
  if (update.clear_vm) {
    t.vm.reset();
  } else if (update.vm) {
    t.vm = update.vm;
  }
  t.intent = update.intent.value_or(t.intent);
  t.suspend_info = update.suspend_info.value_or(t.suspend_info);
  t.agent_token = update.agent_token.value_or(t.agent_token);
  t.gateway_token = update.gateway_token.value_or(t.gateway_token);
  t.updated_at_ms = now_ms;
  return ok();
}

Status validate_hold(const Hold& hold) {
  if (hold.hold_id.empty() || hold.hold_id.size() > kMaxHoldIdLength) {
    return make_error(ErrorCode::kValidationFailed, "hold id: expected 1..{} characters (got {})",
                      kMaxHoldIdLength, hold.hold_id.size());
  }
  return ok();
}

std::string describe_update(const TenantUpdate& update) {
  std::string out;
  auto add = [&out](std::string_view part) {
    if (!out.empty()) {
      out += ' ';
    }
    out += part;
  };
  if (update.status) {
    add(fmt::format("status={}", status_name(*update.status)));
  }
  if (update.clear_vm) {
    add("vm=cleared");
  } else if (update.vm) {
    add(fmt::format("vm.pid={}", update.vm->pid));
  }
  if (update.intent) {
    add(update.intent->empty() ? "intent=cleared" : "intent=set");
  }
  if (update.suspend_info) {
    add(update.suspend_info->empty() ? "suspend_info=cleared" : "suspend_info=set");
  }
  if (update.agent_token) {
    add("agent_token=rotated");
  }
  if (update.gateway_token) {
    add("gateway_token=rotated");
  }
  return out;
}

}  // namespace lobster::store
