#include "vmm/firecracker/jailer_args.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <cstdint>

namespace lobster::vmm::firecracker {
namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int64_t vmm_memory_limit_bytes(int64_t guest_mem_mib) { return (guest_mem_mib + 128) << 20; }

std::vector<std::string> jailer_args(const std::string& jailer_path, const JailerOptions& o) {
  std::vector<std::string> argv = {jailer_path,
                                   "--id",
                                   o.vm_id,
                                   "--exec-file",
                                   o.firecracker_path,
                                   "--uid",
                                   std::to_string(o.uid),
                                   "--gid",
                                   std::to_string(o.gid),
                                   "--chroot-base-dir",
                                   o.chroot_base_dir};
  if (o.new_pid_ns) {
    argv.emplace_back("--new-pid-ns");
  }
  if (!o.netns_path.empty()) {
    argv.insert(argv.end(), {"--netns", o.netns_path});
  }
  const bool v2 = o.cgroup_version == CgroupVersion::kV2;
  argv.insert(argv.end(), {"--cgroup-version", v2 ? "2" : "1"});
  if (!o.parent_cgroup.empty()) {
    argv.insert(argv.end(), {"--parent-cgroup", o.parent_cgroup});
  }
  auto cgroup = [&argv](const std::string& file, const std::string& value) {
    argv.emplace_back("--cgroup");
    argv.push_back(file + "=" + value);
  };
  if (o.memory_limit_bytes > 0) {
    cgroup(v2 ? "memory.max" : "memory.limit_in_bytes", std::to_string(o.memory_limit_bytes));
  }
  if (o.cpu_quota_us > 0) {
    const std::string quota = std::to_string(o.cpu_quota_us);
    const std::string period = std::to_string(o.cpu_period_us);
    if (v2) {
      cgroup("cpu.max", quota + " " + period);
    } else {
      cgroup("cpu.cfs_quota_us", quota);
      cgroup("cpu.cfs_period_us", period);
    }
  }
  if (o.pids_max > 0) {
    // pids.max has the same name in both hierarchies.
    cgroup("pids.max", std::to_string(o.pids_max));
  }
  argv.insert(argv.end(), {"--", "--api-sock", o.api_socket});
  return argv;
}

std::string chroot_vm_dir(const JailerOptions& o) {
  return o.chroot_base_dir + "/" + base_name(o.firecracker_path) + "/" + o.vm_id;
}

std::string chroot_root(const JailerOptions& o) { return chroot_vm_dir(o) + "/root"; }

Result<CgroupVersion> detect_cgroup_version(const std::string& cgroup_root) {
  struct statfs st {};
  if (::statfs(cgroup_root.c_str(), &st) != 0) {
    return errno_error(ErrorCode::kCgroupFailed, "statfs " + cgroup_root);
  }
  // Kernel ABI: f_type is a signed word holding the filesystem magic; compare unsigned.
  const auto magic = static_cast<uint64_t>(st.f_type);
  if (magic == CGROUP2_SUPER_MAGIC) {
    return CgroupVersion::kV2;
  }
  if (magic == TMPFS_MAGIC) {
    return CgroupVersion::kV1;
  }
  return make_error(ErrorCode::kCgroupFailed,
                    "{} is neither a cgroup2 mount nor a cgroup v1 tmpfs (magic {:#x})",
                    cgroup_root, magic);
}

Status validate_jailer_options(const JailerOptions& o) {
  if (o.vm_id.empty() || o.vm_id.size() > 64) {
    return make_error(ErrorCode::kValidationFailed,
                      "jailer id '{}' must be 1 to 64 characters long", o.vm_id);
  }
  for (char c : o.vm_id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return make_error(ErrorCode::kValidationFailed,
                        "jailer id '{}' may only contain letters, digits and '-'", o.vm_id);
    }
  }
  if (base_name(o.firecracker_path).find("firecracker") == std::string::npos) {
    return make_error(ErrorCode::kValidationFailed,
                      "Firecracker binary '{}': the jailer requires 'firecracker' in its file name",
                      o.firecracker_path);
  }
  if (o.chroot_base_dir.empty() || o.chroot_base_dir.front() != '/') {
    return make_error(ErrorCode::kValidationFailed,
                      "jailer chroot base dir '{}' must be an absolute path", o.chroot_base_dir);
  }
  if (o.parent_cgroup.find("..") != std::string::npos ||
      (!o.parent_cgroup.empty() && o.parent_cgroup.front() == '/')) {
    return make_error(ErrorCode::kValidationFailed,
                      "parent cgroup '{}' must be a relative path without '..'", o.parent_cgroup);
  }
  return ok();
}

}  // namespace lobster::vmm::firecracker
