// QemuVm: the Vm handle of one QEMU process (internal to the qemu driver).
#pragma once

#include <optional>
#include <string>

#include "core/unique_fd.h"
#include "host/cgroup/cgroups.h"
#include "vmm/qemu/qmp.h"
#include "vmm/vmm.h"

namespace lobster::vmm::qemu {

std::string qmp_socket_path(const VmSpec& spec);

class QemuVm final : public Vm {
 public:
  QemuVm(VmSpec spec, ProcessIdentity identity, UniqueFd pidfd, QmpClient qmp,
         cgroup::Cgroups& cgroups, int64_t migrate_timeout_ms)
      : spec_(std::move(spec)),
        identity_(std::move(identity)),
        pidfd_(std::move(pidfd)),
        qmp_(std::move(qmp)),
        cgroups_(cgroups),
        migrate_timeout_ms_(migrate_timeout_ms) {}

  const ProcessIdentity& identity() const override { return identity_; }
  Status pause() override;
  Status resume() override;
  Status snapshot(const std::string& dir) override;
  Status stop(int64_t graceful_timeout_ms) override;
  Result<VmState> state() override;
  Result<VmStats> stats() override;

  // Restore path: feeds the migration stream in `fd` into a QEMU started with -incoming defer,
  // waits for completion and continues the guest.
  Status load_incoming(int fd);

 private:
  Status require_alive(const char* op) const;
  Result<nlohmann::json> wait_migration(int64_t timeout_ms);

  VmSpec spec_;
  ProcessIdentity identity_;
  UniqueFd pidfd_;
  std::optional<QmpClient> qmp_;
  cgroup::Cgroups& cgroups_;
  int64_t migrate_timeout_ms_;
};

// Removes what a VM leaves on the host besides its process: cgroup, chroot dir, sockets.
Status cleanup_vm_files(const VmSpec& spec, cgroup::Cgroups& cgroups);

}  // namespace lobster::vmm::qemu
