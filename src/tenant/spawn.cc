#include "tenant/spawn.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

#include "core/fs.h"
#include "core/log.h"
#include "core/rollback.h"
#include "host/firewall/tenant_network.h"
#include "image/config_disk.h"
#include "image/profiles.h"
#include "tenant/boot.h"
#include "tenant/guest_config.h"
#include "tenant/ssh_keys.h"
#include "tenant/teardown.h"

namespace lobster::tenant {
namespace {

std::string random_token() {
  unsigned char bytes[24];
  randombytes_buf(bytes, sizeof(bytes));
  char hex[sizeof(bytes) * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
  return hex;
}

// Runs the steps of one spawn, labelling errors with the step and honouring the test switch.
class Steps {
 public:
  Steps(TenantEnv& env, std::string name, const Progress& progress)
      : env_(env),
        name_(std::move(name)),
        progress_(progress),
        rollback_("spawn " + name_),
        timer_(*env.clock) {}

  // Pushes `undo` first (it must be idempotent), then runs `step`.
  Status run(std::string_view step, std::string_view detail, const std::function<Status()>& fn,
             Rollback::Undo undo) {
    // Broken invariant, not a runtime error: kSpawnSteps is what tests and docs rely on.
    if (next_ >= kSpawnSteps.size() || kSpawnSteps[next_] != step) {
      log::error("tenant.spawn_step_unlisted", {{"step", step}});
      std::abort();
    }
    ++next_;
    if (progress_)
      progress_(step, detail);
    if (undo)
      rollback_.push(std::string(step), std::move(undo));
    timer_.begin(step);
    Status s = fn();
    timer_.end();
    if (s && env_.fail_after_step_for_test == step) {
      s = make_error(ErrorCode::kInternal, "injected failure after step {} (test switch)", step);
    }
    if (!s) {
      Error e = s.error();
      e.message = fmt::format("spawn {}: step {}: {}", name_, step, e.message);
      log::warn("tenant.spawn_failed", {{"tenant", name_},
                                        {"step", step},
                                        {"code", code_name(e.code)},
                                        {"error", e.message},
                                        {"detail", e.detail}});
      return make_error(std::move(e));
    }
    return ok();
  }
  void push_undo(std::string step, Rollback::Undo undo) {
    rollback_.push(std::move(step), std::move(undo));
  }
  void commit() { rollback_.commit(); }
  PhaseTimer& timer() { return timer_; }

 private:
  TenantEnv& env_;
  std::string name_;
  const Progress& progress_;
  Rollback rollback_;
  PhaseTimer timer_;
  size_t next_ = 0;
};

}  // namespace

bool is_spawn_step(std::string_view step) {
  return std::find(kSpawnSteps.begin(), kSpawnSteps.end(), step) != kSpawnSteps.end();
}

Result<SpawnResult> spawn(TenantEnv& env, const SpawnRequest& req, const store::Actor& actor,
                          const Progress& progress) {
  const int64_t image_started_ms = env.clock->monotonic_ms();
  LOB_TRY(validate_name(req.name));
  std::string profile = req.profile.empty() ? env.config.image.default_profile : req.profile;
  const image::ProfileSizing sizing = LOB_TRY(image::profile_sizing(profile));
  const int64_t mem_mb =
      req.mem_mb > 0 ? req.mem_mb
                     : std::max(env.config.firecracker.default_mem_size_mb, sizing.default_mem_mb);
  if (mem_mb < sizing.min_mem_mb) {
    return with_hint(
        Error{ErrorCode::kValidationFailed,
              fmt::format("the {} profile needs at least {} MiB of guest memory, "
                          "not {} MiB",
                          profile, sizing.min_mem_mb, mem_mb)},
        fmt::format("pass --mem {} or more (or leave --mem out for {} MiB)", sizing.min_mem_mb,
                    std::max(sizing.default_mem_mb, sizing.min_mem_mb)));
  }
  // Resolve the image before touching anything: a missing image is the common first error.
  LOB_TRY(env.image_for(profile));

  store::NewTenant nt;
  nt.name = req.name;
  nt.profile = profile;
  nt.vcpus = req.vcpus > 0
                 ? req.vcpus
                 : std::max(env.config.firecracker.default_vcpu_count, sizing.default_vcpus);
  nt.mem_mb = mem_mb;
  nt.agent_token = random_token();
  nt.gateway_token = random_token();
  nt.intent = R"({"op":"spawn"})";
  nt.status = store::TenantStatus::kCreating;
  net::Ipv4 base = LOB_TRY(net::parse_ipv4(env.config.network.subnet_base));
  store::AllocationLimits limits{.max_subnet_index = LOB_TRY(net::max_index(base)),
                                 .uid_start = env.config.jailer.uid_start};

  const int64_t image_ms = env.clock->monotonic_ms() - image_started_ms;

  // Declared before `steps`: the undos refer to them and run when `steps` is destroyed.
  const std::string name = req.name;
  store::Tenant t;
  TenantFacts f;
  SshIdentity ssh;
  Steps steps(env, name, progress);
  LOB_TRY(steps.run(
      "record", "allocating subnet, uid and TAP id",
      [&]() -> Status {
        t = LOB_TRY(env.store->create_tenant(nt, limits, actor));
        // Only now is the row ours to delete (a TENANT_EXISTS failure must not touch the
        // other tenant's row). It is the last undo to run.
        steps.push_undo("record", [&env, &name, &actor]() -> Status {
          Status s = env.store->delete_tenant(name, {}, actor);
          return (!s && s.error().code == ErrorCode::kTenantNotFound) ? ok() : s;
        });
        f = LOB_TRY(facts_for(env, t));
        return ok();
      },
      nullptr));
  LOB_TRY(steps.run(
      "ssh", "generating client key and pinned guest host key",
      [&]() -> Status {
        ssh = LOB_TRY(
            create_ssh_identity(*env.runner, f.files.ssh_dir, name, f.subnet.guest.to_string()));
        return ok();
      },
      [&f]() { return remove_files(f); }));
  LOB_TRY(steps.run(
      "overlay", fmt::format("creating {} MiB sparse overlay", env.config.overlay.default_size_mb),
      [&]() -> Status {
        LOB_TRY(fs::ensure_dir(env.config.overlay.base_dir, 0700));
        return env.create_overlay(f.files.overlay, env.config.overlay.default_size_mb);
      },
      [&f]() { return remove_files(f); }));
  LOB_TRY(steps.run(
      "config-disk", "writing the guest config disk",
      [&]() -> Status {
        GuestNetwork gn{f.subnet.guest.to_string(), f.subnet.host.to_string(), 30};
        return image::write_config_disk(
            f.files.config_disk, config_disk_for(env.config, t, gn, ssh, env.clock->now_ms()));
      },
      nullptr));
  LOB_TRY(steps.run(
      "network", "creating TAP " + f.tap + " and firewall rules",
      [&]() -> Status {
        std::lock_guard net_lock(network_mutex());
        LOB_TRY(env.firewall->ensure_base());
        LOB_TRY(firewall::setup_tenant_network(*env.links, *env.firewall,
                                               {.net = f.net,
                                                .uid = static_cast<uid_t>(t.alloc.jail_uid),
                                                .gid = static_cast<gid_t>(t.alloc.jail_uid)}));
        return ok();
      },
      [&env, &f]() { return remove_network(env, f); }));
  std::unique_ptr<vmm::Vm> vm;
  LOB_TRY(steps.run(
      "vm", fmt::format("starting {} VM ({} vCPU, {} MiB)", env.vmm->name(), t.vcpus, t.mem_mb),
      [&]() -> Status {
        vm = LOB_TRY(start_vm(env, t, f, actor));
        return ok();
      },
      [&env, &t, &f]() { return stop_vm(env, t, f, 0); }));
  LOB_TRY(steps.run(
      "agent", "waiting for the guest agent", [&]() { return await_agent(env, t, f, vm, actor); },
      nullptr));
  LOB_TRY(steps.run(
      "proxy", "adding route https://" + name + "." + env.config.caddy.domain,
      [&]() {
        return env.proxy->add_tenant({name, f.subnet.guest.to_string() + ":9000"});
      },
      [&env, &t]() { return remove_routes(env, t); }));
  LOB_TRY(steps.run(
      "activate", "marking the tenant active",
      [&]() -> Status {
        t = LOB_TRY(env.store->update_tenant(name,
                                             {.expect_status = {store::TenantStatus::kCreating},
                                              .status = store::TenantStatus::kActive,
                                              .intent = std::string()},
                                             actor));
        return ok();
      },
      nullptr));
  steps.commit();
  log::info("tenant.spawned", {{"tenant", name}, {"ip", f.subnet.guest.to_string()}});
  std::vector<Phase> phases = {{"image", image_ms}};
  for (Phase& p : steps.timer().finish()) phases.push_back(std::move(p));
  return SpawnResult{t, f.subnet.guest.to_string(),
                     "https://" + name + "." + env.config.caddy.domain, std::move(phases)};
}

}  // namespace lobster::tenant
