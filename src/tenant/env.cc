#include "tenant/env.h"

#include <memory>

#include "image/manifest.h"
#include "tenant/guest_config.h"

namespace lobster::tenant {

std::function<Result<GuestImage>(const std::string&)> verified_images(
    const std::string& images_dir) {
  auto verifier = std::make_shared<image::ImageVerifier>(images_dir);
  return [verifier](const std::string& profile) -> Result<GuestImage> {
    image::Manifest m = LOB_TRY(verifier->verify(profile));
    auto path = [&](const char* key) -> Result<std::string> {
      auto it = m.artifacts.find(key);
      if (it == m.artifacts.end()) {
        return make_error(ErrorCode::kImageCorrupt, "image {}: manifest lacks {}", profile, key);
      }
      return verifier->artifact_path(profile, it->second);
    };
    return GuestImage{LOB_TRY(path("vmlinux")), LOB_TRY(path("initramfs")),
                      LOB_TRY(path("rootfs"))};
  };
}

std::mutex& network_mutex() {
  static std::mutex mu;
  return mu;
}

Result<TenantFacts> facts_for(const TenantEnv& env, const store::Tenant& t) {
  TenantFacts f;
  net::Ipv4 base = LOB_TRY(net::parse_ipv4(env.config.network.subnet_base));
  f.subnet = LOB_TRY(net::subnet_for_index(base, static_cast<uint32_t>(t.alloc.subnet_index)));
  f.tap = net::tap_name(static_cast<uint32_t>(t.alloc.tap_id));
  f.vm_id = "vm" + std::to_string(t.alloc.tap_id);
  f.files = files_for(env.paths, env.config.jailer.chroot_base_dir, env.config.overlay.base_dir,
                      t.name, t.alloc.tap_id);
  f.net.tap_id = static_cast<uint32_t>(t.alloc.tap_id);
  f.net.host_ip = f.subnet.host;
  f.net.guest_ip = f.subnet.guest;
  return f;
}

Result<vmm::VmSpec> vm_spec_for(const TenantEnv& env, const store::Tenant& t,
                                const TenantFacts& f) {
  GuestImage image = LOB_TRY(env.image_for(t.profile));
  vmm::VmSpec spec;
  spec.id = f.vm_id;
  spec.kernel = env.config.firecracker.kernel_path.empty() ? image.kernel
                                                           : env.config.firecracker.kernel_path;
  spec.initramfs = image.initramfs;
  spec.cmdline = std::string(kGuestCmdline);
  std::string rootfs = env.config.firecracker.rootfs_path.empty()
                           ? image.rootfs
                           : env.config.firecracker.rootfs_path;
  spec.drives = {{rootfs, true, env.config.firecracker.disk_rate_limit},
                 {f.files.overlay, false, env.config.firecracker.disk_rate_limit},
                 {f.files.config_disk, true, std::nullopt}};
  spec.net = vmm::NetIface{f.tap, guest_mac(f.subnet.guest.value),
                           env.config.firecracker.network_rx_rate_limit,
                           env.config.firecracker.network_tx_rate_limit};
  spec.vcpus = t.vcpus;
  spec.mem_mib = t.mem_mb;
  spec.limits = vmm::default_limits(t.vcpus, t.mem_mb);
  spec.jail = {static_cast<uint32_t>(t.alloc.jail_uid), static_cast<uint32_t>(t.alloc.jail_uid),
               f.files.chroot_dir};
  spec.console_log_path = f.files.log_dir + "/console.log";
  spec.vmm_log_path = f.files.log_dir + "/vmm.log";
  spec.metrics_path = f.files.log_dir + "/metrics.json";
  spec.run_dir = f.files.run_dir;
  return spec;
}

std::string vmm_binary(const TenantEnv& env) {
  return env.vmm->name() == "firecracker" ? env.config.firecracker.binary_path
                                          : env.config.vmm.qemu_binary;
}

vmm::ProcessIdentity vm_identity(const TenantEnv& env, const store::Tenant& t) {
  return {static_cast<pid_t>(t.vm->pid), static_cast<uint64_t>(t.vm->start_time), vmm_binary(env)};
}

Result<std::unique_ptr<vmm::Vm>> attach_vm(TenantEnv& env, const store::Tenant& t,
                                           const TenantFacts& f) {
  if (!t.vm) {
    return make_error(ErrorCode::kInvalidState, "tenant {} has no VMM recorded", t.name);
  }
  vmm::VmSpec spec = LOB_TRY(vm_spec_for(env, t, f));
  return env.vmm->attach(spec, vm_identity(env, t));
}

agent::AgentClient agent_for(const TenantEnv& env, const store::Tenant& t, const TenantFacts& f) {
  std::string ip = f.subnet.guest.to_string();
  agent::Endpoint ep = env.agent_endpoint ? env.agent_endpoint(ip) : agent::Endpoint{.host = ip};
  if (!env.agent_endpoint) {
    ep.agent_port = static_cast<uint16_t>(env.config.vsock.agent_port);
    ep.health_port = static_cast<uint16_t>(env.config.vsock.health_port);
  }
  return agent::AgentClient(ep, t.agent_token);
}

}  // namespace lobster::tenant
