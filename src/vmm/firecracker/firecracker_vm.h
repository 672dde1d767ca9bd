// Internal to the firecracker driver: the Vm handle and the jail layout it cleans up.
#pragma once

#include <string>

#include "core/unique_fd.h"
#include "vmm/firecracker/api_client.h"
#include "vmm/firecracker/driver.h"
#include "vmm/firecracker/jail_process.h"

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

// The process that serves the API: the jailer itself, or with --new-pid-ns the VMM named in the
// jail's <exec>.pid file.
struct Watched {
  pid_t pid = 0;
  UniqueFd pidfd;
};

// File name of the Firecracker binary (also the jail's exec-name directory).
std::string exec_name_of(const JailLayout& layout);

// Waits for a connectable api.socket without fixed sleeps (inotify on the jail root plus a
// bounded 25 ms re-check), following the jailer's pid file with --new-pid-ns.
// kJailerSetupFailed if the jailer or VMM exits first (exit status in the message);
// kExecTimeout after `timeout_ms` (the VMM is killed); both with log tails as detail.
Result<Watched> wait_for_api(const JailLayout& layout, SpawnedProcess jailer, int64_t timeout_ms);

// kInvalidState if the jail's pid file names a live VMM of this jail (never rebuild under it).
Status refuse_live_vmm(const JailLayout& layout, const std::string& proc_root);

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
