#include "tenant/boot.h"

#include "core/fs.h"
#include "core/log.h"

namespace lobster::tenant {
namespace {

// How often the VMM's liveness is checked between agent pings (a check may ask QMP).
constexpr int64_t kLivenessCheckMs = 500;

Error with_console_tail(Error e, const TenantFacts& f) {
  const std::string console = f.files.log_dir + "/console.log";
  if (auto tail = fs::read_tail(console, 30)) {
    e.detail = "last lines of " + console + ":\n" + *tail;
  }
  return e;
}

// The agent wait for one boot: kVmBootFailed as soon as the VMM is seen to have exited.
Status wait_one_boot(const TenantEnv& env, const store::Tenant& t, const TenantFacts& f,
                     vmm::Vm& vm) {
  int64_t next_check_ms = 0;
  auto vm_alive = [&]() -> Status {
    int64_t now = env.clock->monotonic_ms();
    if (now < next_check_ms) {
      return ok();
    }
    next_check_ms = now + kLivenessCheckMs;
    auto state = vm.state();
    if (state && *state == vmm::VmState::kExited) {
      return make_error(ErrorCode::kVmBootFailed,
                        "the VM (pid {}) exited before its agent answered", vm.identity().pid);
    }
    return ok();  // an unanswered state query is not a verdict; the agent wait goes on
  };
  // Failed pings return at once while the guest boots, so the retry pause alone decides how
  // soon the agent is noticed (bench/lifecycle: a 500 ms pause put boot-to-agent on a 500 ms
  // grid); 50 ms costs nothing.
  return agent_for(env, t, f).wait_for_agent(env.agent_wait_ms, 3'000, 50, vm_alive);
}

}  // namespace

Result<std::unique_ptr<vmm::Vm>> start_vm(TenantEnv& env, store::Tenant& t, const TenantFacts& f,
                                          const store::Actor& actor,
                                          const std::vector<store::TenantStatus>& expect) {
  vmm::VmSpec spec = LOB_TRY(vm_spec_for(env, t, f));
  LOB_TRY(fs::ensure_dir(f.files.log_dir, 0700));
  LOB_TRY(fs::ensure_dir(f.files.run_dir, 0700));
  auto vm = LOB_TRY(env.vmm->start(spec));
  const auto& id = vm->identity();
  t = LOB_TRY(env.store->update_tenant(
      t.name,
      {.expect_status = expect,
       .vm = store::VmProcess{id.pid, static_cast<int64_t>(id.start_time)}},
      actor));
  return vm;
}

Status await_agent(TenantEnv& env, store::Tenant& t, const TenantFacts& f,
                   std::unique_ptr<vmm::Vm>& vm, const store::Actor& actor,
                   const std::vector<store::TenantStatus>& expect) {
  for (int boot = 1;; ++boot) {
    Status s = wait_one_boot(env, t, f, *vm);
    if (s) {
      return s;
    }
    if (s.error().code != ErrorCode::kVmBootFailed || boot >= kBootAttempts) {
      return make_error(with_console_tail(s.error(), f));
    }
    log::warn("tenant.boot_retry", {{"tenant", t.name},
                                    {"boot", boot},
                                    {"error", s.error().message},
                                    {"detail", with_console_tail(s.error(), f).detail}});
    LOB_TRY(vm->stop(0));  // cleans up the exited VMM's cgroup, chroot and sockets
    vm = LOB_TRY(start_vm(env, t, f, actor, expect));
  }
}

}  // namespace lobster::tenant
