#include "tenant/evict.h"

#include "tenant/teardown.h"

namespace lobster::tenant {

Status evict(TenantEnv& env, const std::string& name, const store::Actor& actor,
             const Progress& progress) {
  using store::TenantStatus;
  auto t =
      env.store->update_tenant(name,
                               {.expect_status = {TenantStatus::kActive, TenantStatus::kSuspended,
                                                  TenantStatus::kFailed, TenantStatus::kRemoving},
                                .status = TenantStatus::kRemoving,
                                .intent = std::string(R"({"op":"evict"})")},
                               actor);
  if (!t) {
    Error e = t.error();
    if (e.code == ErrorCode::kInvalidState) {
      e.message = "cannot evict \"" + name + "\" now: another operation is in progress";
      e.hint = "wait for it to finish (lobsterd tank shows the status), then evict again";
    }
    return make_error(std::move(e));
  }
  return teardown(env, *t, actor, progress);
}

}  // namespace lobster::tenant
