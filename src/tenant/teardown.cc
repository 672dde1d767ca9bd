#include "tenant/teardown.h"

#include "core/fs.h"
#include "core/log.h"
#include "host/firewall/tenant_network.h"

namespace lobster::tenant {

Status stop_vm(TenantEnv& env, const store::Tenant& t, const TenantFacts& f, int64_t graceful_ms) {
  Status first = ok();
  if (t.vm) {
    auto spec = vm_spec_for(env, t, f);
    if (spec) {
      auto vm = env.vmm->attach(*spec, vm_identity(env, t));
      if (vm) {
        first = (*vm)->stop(graceful_ms);
      } else if (vm.error().code != ErrorCode::kInvalidState) {
        first = make_error(vm.error());
      }
    }
  }
  // Whatever is still in the tenant's cgroup is a VMM we lost track of (daemon killed between
  // starting it and recording it): the cgroup, not a name pattern, tells us what to kill.
  Status cg = env.cgroups->remove(f.vm_id, 5000);
  if (first && !cg)
    first = cg;
  Status chroot = fs::remove_tree(f.files.chroot_dir);
  if (first && !chroot)
    first = chroot;
  return first;
}

Status remove_network(TenantEnv& env, const TenantFacts& f) {
  std::lock_guard net_lock(network_mutex());
  return firewall::teardown_tenant_network(*env.links, *env.firewall, f.net);
}

Status remove_files(const TenantFacts& f) {
  Status first = ok();
  for (const std::string& p :
       {f.files.overlay, f.files.config_disk, f.files.ssh_dir, f.files.snapshot_dir,
        f.files.run_dir, f.files.chroot_dir, f.files.log_dir}) {
    Status s = fs::remove_tree(p);
    if (first && !s)
      first = s;
  }
  return first;
}

Status teardown(TenantEnv& env, const store::Tenant& t, const store::Actor& actor,
                const Progress& progress) {
  auto say = [&](std::string_view step, std::string_view detail) {
    if (progress)
      progress(step, detail);
  };
  TenantFacts f = LOB_TRY(facts_for(env, t));
  say("vm", "stopping VM");
  // No graceful shutdown: the disk is deleted next, and the guest does not power off on the
  // ACPI button, so a grace period only added its full 5 s to every evict (bench/lifecycle).
  LOB_TRY(stop_vm(env, t, f, 0));
  say("network", "removing firewall rules and TAP " + f.tap);
  LOB_TRY(remove_network(env, f));
  say("files", "removing disks, keys, snapshots and logs");
  LOB_TRY(remove_files(f));
  say("store", "releasing allocations");
  Status del = env.store->delete_tenant(t.name, {}, actor);
  if (!del && del.error().code != ErrorCode::kTenantNotFound)
    return del;
  log::info("tenant.removed", {{"tenant", t.name}});
  return ok();
}

}  // namespace lobster::tenant
