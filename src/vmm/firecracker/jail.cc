// Jail layout, hard links into the jail, and cleanup of the jail and its cgroups.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/fs.h"
#include "vmm/firecracker/firecracker_vm.h"
#include "vmm/firecracker/jail_process.h"

namespace lobster::vmm::firecracker {

JailLayout make_layout(const FirecrackerOptions& options, const JailerOptions& jailer,
                       const VmSpec& spec) {
  JailLayout l;
  l.jailer = jailer;
  l.vm_dir = chroot_vm_dir(jailer);
  l.root = chroot_root(jailer);
  l.socket = l.root + "/" + jailer.api_socket;
  l.stderr_path = spec.vmm_log_path.empty() ? spec.run_dir + "/vmm.log" : spec.vmm_log_path;
  l.cgroup_root = options.cgroup_root;
  return l;
}

std::string failure_detail(const JailLayout& layout) {
  std::string out = "stderr: " + tail_file(layout.stderr_path);
  const std::string log = tail_file(layout.root + "/firecracker.log");
  if (!log.empty())
    out += "\nfirecracker log: " + log;
  return out;
}

Status remove_jail(const JailLayout& layout) {
  LOB_TRY(fs::remove_tree(layout.vm_dir));
  // The exec-name directory and the tenant's chroot dir go too when nothing else is in them.
  const std::string exec_dir = layout.vm_dir.substr(0, layout.vm_dir.find_last_of('/'));
  ::rmdir(exec_dir.c_str());
  ::rmdir(layout.jailer.chroot_base_dir.c_str());
  std::vector<std::string> cgroups;
  const std::string rel = layout.jailer.parent_cgroup.empty()
                              ? layout.jailer.vm_id
                              : layout.jailer.parent_cgroup + "/" + layout.jailer.vm_id;
  if (layout.jailer.cgroup_version == CgroupVersion::kV2) {
    cgroups.push_back(layout.cgroup_root + "/" + rel);
  } else {
    for (const char* controller : {"memory", "cpu", "pids"}) {
      cgroups.push_back(layout.cgroup_root + "/" + controller + "/" + rel);
    }
  }
  for (const auto& dir : cgroups) {
    // A killed VMM leaves its cgroup only once it has been reaped (possibly by init): retry
    // EBUSY for a bounded time.
    for (int attempt = 0;; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
        break;
      if (errno != EBUSY || attempt >= 200) {
        return errno_error(ErrorCode::kCgroupFailed, "rmdir " + dir);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return ok();
}

}  // namespace lobster::vmm::firecracker
