#include "tenant/snap.h"

#include "core/fs.h"

namespace lobster::tenant {

Result<SnapResult> snap(TenantEnv& env, const std::string& name, const std::string& out_arg) {
  store::Tenant t = LOB_TRY(env.store->get_tenant(name));
  using store::TenantStatus;
  if (t.status != TenantStatus::kActive && t.status != TenantStatus::kSuspended) {
    return make_error(ErrorCode::kInvalidState, "cannot snap \"{}\" while it is {}", name,
                      store::status_name(t.status));
  }
  TenantFacts f = LOB_TRY(facts_for(env, t));
  std::string key = LOB_TRY(load_or_create_snap_key(env.paths.keys_dir()));
  int64_t now = env.clock->now_ms();
  std::string out = out_arg;
  if (out.empty()) {
    LOB_TRY(fs::ensure_dir(env.paths.data_dir + "/snaps", 0700));
    out = env.paths.data_dir + "/snaps/" + name + "-" + std::to_string(now) + ".snap";
  }
  // A paused guest issues no writes, so the disk is read in one consistent state.
  std::unique_ptr<vmm::Vm> vm;
  if (t.status == TenantStatus::kActive && t.vm) {
    vm = LOB_TRY(attach_vm(env, t, f));
    LOB_TRY(vm->pause());
  }
  auto meta = write_snap(f.files.overlay, out, key, name, now);
  if (vm) {
    Status resumed = vm->resume();
    if (meta && !resumed)
      return make_error(resumed.error());
  }
  if (!meta)
    return make_error(meta.error());
  return SnapResult{out, *meta};
}

}  // namespace lobster::tenant
