// The qemu VMM driver: runs the guest under `qemu-system-x86_64 -M microvm` (KVM when a probe
// VM really boots with it, else TCG), jailed (tenant uid/gid via -runas, empty chroot, new
// mount + pid namespaces, own session, cgroups, seccomp sandbox) and controlled over QMP.
// See vmm/vmm.h for the contract; DESIGN.md "VMM drivers" for the measured QEMU facts.
//
//   auto probe = std::make_shared<KvmProbe>(cfg.vmm.qemu_binary, kernel, paths.run_dir, runner);
//   QemuDriver driver({.binary = cfg.vmm.qemu_binary}, probe, cgroups, runner);
//   auto vm = LOB_TRY(driver.start(spec));
//
// Files per VM: <run_dir>/qmp.sock (removed on stop), <chroot_dir> (an empty directory that is
// QEMU's root after it opened its files; removed on stop), snapshot dir: state.qemu (the
// migration stream) + meta.json, 0600 in a 0700 directory.
#pragma once

#include <memory>
#include <string>

#include "host/cgroup/cgroups.h"
#include "host/process/process.h"
#include "vmm/vmm.h"

namespace lobster::vmm::qemu {

// Whether KVM boots a guest here: boots `kernel` without a root fs under -accel kvm and waits
// for its panic message; any failure or a hang (nested "kvm-pvm" hosts) means no. The answer
// is cached in <cache_dir>/kvm-probe.json, so the probe runs once per state root.
class KvmProbe final : public HostProbe {
 public:
  KvmProbe(std::string qemu_binary, std::string kernel, std::string cache_dir,
           process::ProcessRunner& runner)
      : binary_(std::move(qemu_binary)),
        kernel_(std::move(kernel)),
        cache_dir_(std::move(cache_dir)),
        runner_(runner) {}
  bool firecracker_binaries_present(const Config& cfg) const override;
  bool kvm_usable() const override;

 private:
  std::string binary_;
  std::string kernel_;
  std::string cache_dir_;
  process::ProcessRunner& runner_;
};

// The host's TSC rate in kHz from /proc/cpuinfo ("cpu MHz"), 0 if unknown or not invariant
// (constant_tsc and nonstop_tsc both required).
int64_t host_tsc_khz(const std::string& cpuinfo_path = "/proc/cpuinfo");

struct QemuOptions {
  std::string binary = "/usr/bin/qemu-system-x86_64";
  int64_t boot_timeout_ms = 20000;      // QEMU process up and QMP answering
  int64_t migrate_timeout_ms = 300000;  // snapshot / restore stream
};

class QemuDriver final : public VmmDriver {
 public:
  QemuDriver(QemuOptions options, std::shared_ptr<const HostProbe> probe, cgroup::Cgroups& cgroups,
             process::ProcessRunner& runner)
      : options_(std::move(options)),
        probe_(std::move(probe)),
        cgroups_(cgroups),
        runner_(runner) {}

  std::string_view name() const override { return "qemu"; }
  Result<std::unique_ptr<Vm>> start(const VmSpec& spec) override;
  Result<std::unique_ptr<Vm>> restore(const std::string& dir, const VmSpec& spec) override;
  Result<std::unique_ptr<Vm>> attach(const VmSpec& spec, const ProcessIdentity& id) override;

 private:
  Result<std::unique_ptr<Vm>> launch(const VmSpec& spec, bool incoming);

  QemuOptions options_;
  std::shared_ptr<const HostProbe> probe_;
  cgroup::Cgroups& cgroups_;
  process::ProcessRunner& runner_;
};

}  // namespace lobster::vmm::qemu
