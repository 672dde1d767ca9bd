// Internal to the firecracker driver: the Vm handle and the jail layout it cleans up.
#pragma once

#include <string>

#include "core/unique_fd.h"
#include "vmm/firecracker/api_client.h"
#include "vmm/firecracker/driver.h"

namespace lobster::vmm::firecracker {

struct JailLayout {
  JailerOptions jailer;
  std::string vm_dir;       // <base>/<exec>/<vm_id>: removing it removes the jail
  std::string root;         // vm_dir + "/root"
  std::string socket;       // root + "/api.socket"
  std::string stderr_path;  // jailer/Firecracker stderr (host path)
  std::string cgroup_root;
};

JailLayout make_layout(const FirecrackerOptions& options, const JailerOptions& jailer,
                       const VmSpec& spec);
// Removes the jail directory, the empty parents the driver created and the VM's cgroups.
// Idempotent; the VMM process must be gone.
Status remove_jail(const JailLayout& layout);
// "stderr: ...\nfirecracker log: ..." for error details.
std::string failure_detail(const JailLayout& layout);

class FirecrackerVm final : public Vm {
 public:
  FirecrackerVm(JailLayout layout, const FirecrackerOptions& options, UniqueFd pidfd,
                ProcessIdentity identity);

  const ProcessIdentity& identity() const override { return identity_; }
  Status pause() override;
  Status resume() override;
  Status snapshot(const std::string& dir) override;
  Status stop(int64_t graceful_timeout_ms) override;
  Result<VmState> state() override;
  Result<VmStats> stats() override;

 private:
  Status require_running(std::string_view op) const;

  JailLayout layout_;
  std::string proc_root_;
  int64_t snapshot_timeout_ms_;
  ApiClient api_;
  UniqueFd pidfd_;
  ProcessIdentity identity_;
};

}  // namespace lobster::vmm::firecracker
