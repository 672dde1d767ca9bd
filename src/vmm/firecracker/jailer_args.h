// Jailer command line for one Firecracker microVM (spec §5.4, with §16 items 8 and 25 fixed).
//
// Pure functions: the argv is a value that tests compare exactly; only the driver executes it.
// The cgroup version is a parameter (detect it once with detect_cgroup_version()), so v1 and
// v2 hosts are both testable anywhere.
//
//   JailerOptions o{.vm_id = "vm-alice", .firecracker_path = "/usr/local/bin/firecracker",
//                   .uid = 10001, .gid = 10001, .chroot_base_dir = "/var/lib/lobsterd/jail",
//                   .cgroup_version = LOB_TRY(detect_cgroup_version("/sys/fs/cgroup")),
//                   .parent_cgroup = cgroup::parent_name_for(paths.root), ...};
//   std::vector<std::string> argv = jailer_args("/usr/local/bin/jailer", o);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::vmm::firecracker {

enum class CgroupVersion { kV1, kV2 };

struct JailerOptions {
  std::string vm_id;             // "vm-<tenant>": the jailer's --id (alphanumerics and '-')
  std::string firecracker_path;  // --exec-file; its file name must contain "firecracker"
  uint32_t uid = 0;              // tenant uid the VMM runs as
  uint32_t gid = 0;
  std::string chroot_base_dir;  // the jail lives in <base>/<exec file name>/<vm_id>/root
  CgroupVersion cgroup_version = CgroupVersion::kV2;
  std::string parent_cgroup;       // one per lobsterd root, so two roots never share cgroups
  int64_t memory_limit_bytes = 0;  // 0 = no memory limit
  int64_t cpu_quota_us = 0;        // vCPUs x 100 ms (spec §5.4); 0 = no CPU limit
  int64_t cpu_period_us = 100'000;
  int64_t pids_max = 0;                   // 0 = no pids limit
  bool new_pid_ns = true;                 // the VMM becomes PID 1 of its own PID namespace
  std::string netns_path;                 // "" = stay in the caller's network namespace
  std::string api_socket = "api.socket";  // chroot-relative
};

// Memory a VMM may use: guest RAM plus 128 MiB for Firecracker itself (spec §5.4).
int64_t vmm_memory_limit_bytes(int64_t guest_mem_mib);

// The full argv, jailer binary first:
//   <jailer> --id <id> --exec-file <fc> --uid <uid> --gid <gid> --chroot-base-dir <dir>
//   [--new-pid-ns] [--netns <path>] --cgroup-version <1|2> --parent-cgroup <name>
//   --cgroup <file>=<value>... -- --api-sock <socket>
std::vector<std::string> jailer_args(const std::string& jailer_path, const JailerOptions& options);

// Host path of the jail's root directory: <base>/<basename(firecracker_path)>/<vm_id>/root.
std::string chroot_root(const JailerOptions& options);
// The directory the jailer creates for this VM (<base>/<exec name>/<vm_id>); removing it
// removes the jail.
std::string chroot_vm_dir(const JailerOptions& options);

// statfs(cgroup_root): cgroup2 magic -> kV2; tmpfs (legacy or hybrid layout) -> kV1.
// kCgroupFailed if the path cannot be examined or is neither.
Result<CgroupVersion> detect_cgroup_version(const std::string& cgroup_root);

// Checks what the real jailer would reject (id charset/length, exec file name) so the error
// comes from us with a clear message: kValidationFailed.
Status validate_jailer_options(const JailerOptions& options);

}  // namespace lobster::vmm::firecracker
