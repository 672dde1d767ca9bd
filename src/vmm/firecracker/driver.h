// FirecrackerDriver: the production VmmDriver (DESIGN.md "VMM drivers", spec §5.4-5.5).
//
// start(): hard-links kernel, initramfs and disks into the jail (<chroot_dir>/<exec>/vm-<id>/
// root; same filesystem required, never copies), spawns the jailer in its own session with a
// pidfd, waits for api.socket (inotify + a bounded re-check, never a fixed sleep), configures
// logger, metrics, machine, boot source, drives and network, then InstanceStart.
// restore(): the same jail, then PUT /snapshot/load of the hard-linked snapshot files.
// Every failure removes what was created (process, jail, cgroups).
//
// Errors: a Firecracker 4xx/5xx -> kVmBootFailed (boot calls) / kSnapshotFailed (snapshot calls)
// / kVmmFailed (runtime calls), message includes its fault_message; api.socket never appears ->
// kExecTimeout; the jailer or Firecracker exits first -> kJailerSetupFailed with the exit status;
// both carry the stderr and Firecracker log tails as detail.
//
//   auto driver = LOB_TRY(FirecrackerDriver::create({.jailer_path = cfg.jailer.binary_path,
//       .firecracker_path = cfg.firecracker.binary_path,
//       .parent_cgroup = cgroup::parent_name_for(paths.root)}));
//   auto vm = LOB_TRY(driver->start(spec));
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "vmm/firecracker/jailer_args.h"
#include "vmm/vmm.h"

namespace lobster::vmm::firecracker {

struct FirecrackerOptions {
  std::string jailer_path;
  std::string firecracker_path;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::optional<CgroupVersion> cgroup_version;  // nullopt: detect_cgroup_version(cgroup_root)
  std::string parent_cgroup = "lobsterd";       // cgroup::parent_name_for(paths.root)
  bool new_pid_ns = true;
  int64_t socket_timeout_ms = 5'000;  // jailer start to a connectable api.socket
  int64_t api_timeout_ms = 10'000;    // per API call (snapshots of big guests take longer)
  int64_t snapshot_timeout_ms = 120'000;
  std::string log_level = "Info";
  std::string proc_root = "/proc";
};

class FirecrackerDriver final : public VmmDriver {
 public:
  // kValidationFailed for missing binaries paths; kCgroupFailed if the version can't be found.
  static Result<std::unique_ptr<FirecrackerDriver>> create(FirecrackerOptions options);

  std::string_view name() const override { return "firecracker"; }
  Result<std::unique_ptr<Vm>> start(const VmSpec& spec) override;
  Result<std::unique_ptr<Vm>> restore(const std::string& dir, const VmSpec& spec) override;
  Result<std::unique_ptr<Vm>> attach(const VmSpec& spec, const ProcessIdentity& id) override;

  // The jailer options this driver derives from a spec (exposed for tests).
  JailerOptions jailer_options(const VmSpec& spec) const;

 private:
  explicit FirecrackerDriver(FirecrackerOptions options) : options_(std::move(options)) {}
  Result<std::unique_ptr<Vm>> launch(const VmSpec& spec, const std::string& snapshot_dir);

  FirecrackerOptions options_;
};

// File names inside a snapshot directory (and, transiently, inside the jail).
inline constexpr const char* kSnapshotStateFile = "snapshot_file";
inline constexpr const char* kSnapshotMemFile = "mem_file";

}  // namespace lobster::vmm::firecracker
