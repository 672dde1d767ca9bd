#include "vmm/firecracker/driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/rollback.h"
#include "vmm/firecracker/firecracker_vm.h"
#include "vmm/firecracker/jail_process.h"

namespace lobster::vmm::firecracker {
namespace {

constexpr const char* kLogInJail = "/firecracker.log";
constexpr const char* kMetricsInJail = "/metrics.json";

Status link_into(const std::string& src, const std::string& dst) {
  ::unlink(dst.c_str());  // a stale link from an earlier crash
  if (::link(src.c_str(), dst.c_str()) == 0)
    return ok();
  const int e = errno;
  Error err =
      make_sys_error(ErrorCode::kJailerSetupFailed, e, "hard-link " + src + " -> " + dst).error();
  if (e == EXDEV) {
    err.hint =
        "keep images, disks, snapshots and the jail on one filesystem: the driver "
        "hard-links files into the jail and never copies them";
  }
  return make_error(std::move(err));
}

Status chown_to(const std::string& path, const Jail& jail) {
  if (::chown(path.c_str(), jail.uid, jail.gid) != 0) {
    return errno_error(ErrorCode::kJailerSetupFailed, "chown " + path);
  }
  return ok();
}

// A log or metrics file Firecracker appends to: the caller's file hard-linked into the jail
// when both share a filesystem, else a file inside the jail. Owned by the tenant, 0600.
Status jail_output_file(const std::string& host_path, const std::string& in_jail,
                        const Jail& jail) {
  if (!host_path.empty()) {
    UniqueFd fd(::open(host_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd)
      return errno_error(ErrorCode::kJailerSetupFailed, "create " + host_path);
    if (::link(host_path.c_str(), in_jail.c_str()) == 0)
      return chown_to(in_jail, jail);
  }
  UniqueFd fd(::open(in_jail.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd)
    return errno_error(ErrorCode::kJailerSetupFailed, "create " + in_jail);
  return chown_to(in_jail, jail);
}

}  // namespace

Result<std::unique_ptr<FirecrackerDriver>> FirecrackerDriver::create(FirecrackerOptions options) {
  if (options.jailer_path.empty() || options.firecracker_path.empty()) {
    return make_error(ErrorCode::kValidationFailed,
                      "firecracker driver: jailer and firecracker paths are required");
  }
  if (!options.cgroup_version) {
    options.cgroup_version = LOB_TRY(detect_cgroup_version(options.cgroup_root));
  }
  return std::unique_ptr<FirecrackerDriver>(new FirecrackerDriver(std::move(options)));
}

JailerOptions FirecrackerDriver::jailer_options(const VmSpec& spec) const {
  return JailerOptions{.vm_id = "vm-" + spec.id,
                       .firecracker_path = options_.firecracker_path,
                       .uid = spec.jail.uid,
                       .gid = spec.jail.gid,
                       .chroot_base_dir = spec.jail.chroot_dir,
                       .cgroup_version = options_.cgroup_version.value_or(CgroupVersion::kV2),
                       .parent_cgroup = options_.parent_cgroup,
                       .memory_limit_bytes = spec.limits.memory_bytes,
                       .cpu_quota_us = spec.limits.cpu_quota_us,
                       .cpu_period_us = spec.limits.cpu_period_us,
                       .pids_max = spec.limits.pids_max,
                       .new_pid_ns = options_.new_pid_ns};
}

Result<std::unique_ptr<Vm>> FirecrackerDriver::start(const VmSpec& spec) {
  return launch(spec, "");
}

Result<std::unique_ptr<Vm>> FirecrackerDriver::restore(const std::string& dir, const VmSpec& spec) {
  for (const char* name : {kSnapshotStateFile, kSnapshotMemFile}) {
    if (!fs::exists(dir + "/" + name)) {
      return make_error(ErrorCode::kSnapshotFailed, "snapshot {}/{} does not exist", dir, name);
    }
  }
  return launch(spec, dir);
}

Result<std::unique_ptr<Vm>> FirecrackerDriver::launch(const VmSpec& spec,
                                                      const std::string& snapshot_dir) {
  const JailerOptions jo = jailer_options(spec);
  LOB_TRY(validate_jailer_options(jo));
  const JailLayout layout = make_layout(options_, jo, spec);
  const bool restoring = !snapshot_dir.empty();
  const ErrorCode boot_code = restoring ? ErrorCode::kSnapshotFailed : ErrorCode::kVmBootFailed;
  Watched vmm;  // declared before the rollback so its pidfd outlives the undo that uses it
  Rollback rb(std::string(restoring ? "restore " : "start ") + jo.vm_id);

  // 1. The jail: hard links only (spec §16 item 26), writable disks owned by the tenant.
  if (fs::exists(layout.vm_dir)) {
    LOB_TRY(refuse_live_vmm(layout, options_.proc_root));
    LOB_TRY(remove_jail(layout));  // left over from a crash
  }
  LOB_TRY(fs::ensure_dir(jo.chroot_base_dir, 0711));
  rb.push("remove jail", [layout] { return remove_jail(layout); });
  LOB_TRY(fs::ensure_dir(layout.root, 0700));
  LOB_TRY(chown_to(layout.root, spec.jail));
  if (!spec.run_dir.empty())
    LOB_TRY(fs::ensure_dir(spec.run_dir, 0700));
  LOB_TRY(link_into(spec.kernel, layout.root + "/vmlinux"));
  if (!spec.initramfs.empty())
    LOB_TRY(link_into(spec.initramfs, layout.root + "/initrd"));
  for (size_t i = 0; i < spec.drives.size(); ++i) {
    const std::string dst = fmt::format("{}/drive{}.img", layout.root, i);
    LOB_TRY(link_into(spec.drives[i].path, dst));
    if (!spec.drives[i].read_only)
      LOB_TRY(chown_to(dst, spec.jail));
  }
  if (restoring) {
    for (const char* name : {kSnapshotStateFile, kSnapshotMemFile}) {
      LOB_TRY(link_into(snapshot_dir + "/" + name, layout.root + "/" + name));
    }
  }
  LOB_TRY(jail_output_file(spec.vmm_log_path, layout.root + kLogInJail, spec.jail));
  LOB_TRY(jail_output_file(spec.metrics_path, layout.root + kMetricsInJail, spec.jail));

  // 2. The jailer, in its own session; waited for through its pidfd (no fixed sleep).
  const auto argv = jailer_args(options_.jailer_path, jo);
  log::info("vmm.firecracker.spawn", {{"vm", jo.vm_id}, {"argv", argv}});
  SpawnedProcess jailer = LOB_TRY(spawn_session(
      argv, {.stdout_path = spec.console_log_path, .stderr_path = layout.stderr_path}));
  vmm = LOB_TRY(wait_for_api(layout, std::move(jailer), options_.socket_timeout_ms));
  const int vmm_pidfd = vmm.pidfd.get();
  rb.push("kill VMM", [vmm_pidfd] { return kill_and_wait(vmm_pidfd, 5'000); });

  // 3. Configure and start (spec §5.5 order), or load the snapshot.
  ApiClient api(layout.socket, options_.api_timeout_ms);
  auto call = [&](const ApiRequest& r, ErrorCode code) -> Status {
    auto res = api.call(r, code);
    if (!res) {
      Error e = std::move(res).error();
      if (has_exited(vmm_pidfd))
        e.detail += (e.detail.empty() ? "" : "\n") + failure_detail(layout);
      return make_error(std::move(e));
    }
    return ok();
  };
  LOB_TRY(call(put_logger(kLogInJail, options_.log_level), boot_code));
  LOB_TRY(call(put_metrics(kMetricsInJail), boot_code));
  if (restoring) {
    auto version = api.call(get_version(), ErrorCode::kSnapshotFailed);
    const MemFileStyle style =
        version && version->is_object()
            ? mem_file_style_for_version(version->value("firecracker_version", ""))
            : MemFileStyle::kMemBackend;
    ApiClient slow(layout.socket, options_.snapshot_timeout_ms);
    auto loaded = slow.call(snapshot_load(std::string("/") + kSnapshotStateFile,
                                          std::string("/") + kSnapshotMemFile, true, style),
                            ErrorCode::kSnapshotFailed);
    if (!loaded)
      return make_error(std::move(loaded).error());
    // Firecracker maps the memory file privately: drop the jail's names so the next snapshot
    // writes new inodes instead of the file backing this guest.
    for (const char* name : {kSnapshotStateFile, kSnapshotMemFile}) {
      ::unlink((layout.root + "/" + name).c_str());
    }
  } else {
    LOB_TRY(call(put_machine_config(spec.vcpus, spec.mem_mib), boot_code));
    LOB_TRY(call(put_boot_source("/vmlinux", spec.initramfs.empty() ? "" : "/initrd", spec.cmdline),
                 boot_code));
    for (size_t i = 0; i < spec.drives.size(); ++i) {
      const Drive& d = spec.drives[i];
      const bool root_device = spec.initramfs.empty() && i == 0;
      LOB_TRY(call(put_drive(fmt::format("drive{}", i), fmt::format("/drive{}.img", i), root_device,
                             d.read_only, d.limit),
                   boot_code));
    }
    if (spec.net) {
      LOB_TRY(call(put_network_interface("eth0", spec.net->tap_name, spec.net->mac, spec.net->rx,
                                         spec.net->tx),
                   boot_code));
    }
    LOB_TRY(call(instance_start(), boot_code));
  }
  ProcessIdentity id = LOB_TRY(identity_of(vmm.pid, options_.proc_root));
  rb.commit();
  log::info("vmm.firecracker.running", {{"vm", jo.vm_id}, {"pid", vmm.pid}});
  return std::unique_ptr<Vm>(
      new FirecrackerVm(layout, options_, std::move(vmm.pidfd), std::move(id)));
}

Result<std::unique_ptr<Vm>> FirecrackerDriver::attach(const VmSpec& spec,
                                                      const ProcessIdentity& id) {
  const JailLayout layout = make_layout(options_, jailer_options(spec), spec);
  auto stale = [&] {
    return make_error(ErrorCode::kInvalidState,
                      "VMM pid {} of vm-{} is gone or now another process", id.pid, spec.id);
  };
  if (!LOB_TRY(identity_matches(id, options_.proc_root)))
    return stale();
  UniqueFd pidfd = LOB_TRY(open_pidfd(id.pid));
  // Checked again after pidfd_open: the pidfd now pins this exact process.
  if (!LOB_TRY(identity_matches(id, options_.proc_root)) || has_exited(pidfd.get())) {
    return stale();
  }
  return std::unique_ptr<Vm>(new FirecrackerVm(layout, options_, std::move(pidfd), id));
}

}  // namespace lobster::vmm::firecracker
