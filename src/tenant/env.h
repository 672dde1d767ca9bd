// TenantEnv: everything tenant operations touch, injected by the daemon (daemon wiring is the
// only place that builds real implementations; tests build one around fakes).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/agent_client.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/paths.h"
#include "host/cgroup/cgroups.h"
#include "host/firewall/firewall.h"
#include "host/net/links.h"
#include "host/process/process.h"
#include "proxy/proxy.h"
#include "store/store.h"
#include "tenant/names.h"
#include "vmm/vmm.h"

namespace lobster::tenant {

// Verified artifacts of one image profile.
struct GuestImage {
  std::string kernel;
  std::string initramfs;
  std::string rootfs;
};

// Progress lines for long operations ("[vm] starting QEMU"); may be empty.
using Progress = std::function<void(std::string_view step, std::string_view detail)>;

struct TenantEnv {
  Paths paths;
  Config config;
  store::Store* store = nullptr;
  net::Links* links = nullptr;
  firewall::Firewall* firewall = nullptr;
  cgroup::Cgroups* cgroups = nullptr;
  vmm::VmmDriver* vmm = nullptr;
  proxy::Proxy* proxy = nullptr;
  process::ProcessRunner* runner = nullptr;
  const Clock* clock = nullptr;
  // Resolves and verifies an image profile (kImageMissing / kImageCorrupt).
  std::function<Result<GuestImage>(const std::string& profile)> image_for;
  // Creates the tenant's sparse overlay disk (ext4, label lobster-ovl).
  std::function<Status(const std::string& path, int64_t size_mb)> create_overlay;
  // Where the tenant's agent listens; default: the guest IP. Tests may redirect it.
  std::function<agent::Endpoint(const std::string& guest_ip)> agent_endpoint;
  // How long spawn waits for the guest agent (TCG boots are slow).
  int64_t agent_wait_ms = 120'000;
  // Runs follow-up work that must not delay an operation (resume's poke-cron) under a task
  // name; the daemon hands it to its loop host. Empty: run it inline.
  std::function<void(const std::string& name, std::function<void()> fn)> run_in_background;
  // Test-only: fail right after the named spawn step took effect (see spawn.h step names).
  std::string fail_after_step_for_test;
};

// image_for backed by the image module: verifies the profile's manifest before each use.
std::function<Result<GuestImage>(const std::string&)> verified_images(
    const std::string& images_dir);

// Host firewall batches and base-chain setup are host-global: one tenant at a time.
std::mutex& network_mutex();

// Derived per-tenant facts every operation needs.
struct TenantFacts {
  net::Subnet subnet;
  std::string tap;
  std::string vm_id;  // cgroup / VMM id: "vm<tap id>"
  TenantFiles files;
  firewall::TenantNet net;
};
Result<TenantFacts> facts_for(const TenantEnv& env, const store::Tenant& tenant);

// The VmSpec for a tenant (same for start, restore and attach).
Result<vmm::VmSpec> vm_spec_for(const TenantEnv& env, const store::Tenant& tenant,
                                const TenantFacts& facts);

// The executable the chosen driver runs (for re-attach identity checks).
std::string vmm_binary(const TenantEnv& env);

// The stored identity of the tenant's VMM (precondition: tenant.vm is set).
vmm::ProcessIdentity vm_identity(const TenantEnv& env, const store::Tenant& tenant);

// Re-attaches to the tenant's running VMM. kInvalidState if none is recorded or it is gone.
Result<std::unique_ptr<vmm::Vm>> attach_vm(TenantEnv& env, const store::Tenant& tenant,
                                           const TenantFacts& facts);

// Agent client for the tenant.
agent::AgentClient agent_for(const TenantEnv& env, const store::Tenant& tenant,
                             const TenantFacts& facts);

}  // namespace lobster::tenant
