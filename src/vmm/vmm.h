// vmm: the driver interface every VMM implementation (qemu, firecracker) provides.
//
// The tenant layer describes a guest as a `VmSpec` (pure data) and asks a `VmmDriver` to start
// it, restore it from a snapshot, or re-attach to a VMM process that survived a daemon restart.
// Each call yields a `Vm` handle that controls exactly one VMM process, identified by a pidfd
// (never by name, spec §16 items 8 and 9). VMM processes run in their own session and cgroups
// and outlive the daemon; the daemon stores `Vm::identity()` and calls `attach()` after a
// restart.
//
//   auto driver = LOB_TRY(make_driver(LOB_TRY(choose_driver(cfg, probe))));  // daemon wiring
//   VmSpec spec = ...;  spec.limits = default_limits(spec.vcpus, spec.mem_mib);
//   auto vm = LOB_TRY(driver->start(spec));
//   store.save_vm_identity(tenant, vm->identity());
//   LOB_TRY(vm->pause());  LOB_TRY(vm->snapshot(snap_dir));  LOB_TRY(vm->stop(5000));
//   auto vm2 = LOB_TRY(driver->restore(snap_dir, spec));
//
// Error codes: kVmBootFailed (the VMM could not start or configure the guest), kJailerSetupFailed
// (chroot/uid/namespace setup), kCgroupFailed, kVmmFailed (a runtime control call failed),
// kSnapshotFailed, kInvalidState (wrong state for the call, e.g. pausing a stopped VM),
// kExecTimeout (a deadline passed), kProtocolError (the VMM sent malformed data).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace lobster::vmm {

// A virtio-blk disk. The guest finds disks by label or magic, never by order (guest contract).
struct Drive {
  std::string path;  // host path of the image file
  bool read_only = false;
  std::optional<RateLimiter> limit;  // bytes/s and ops/s token buckets; nullopt = unlimited
  bool operator==(const Drive&) const = default;
};

// The tenant's network interface: a persistent TAP created by host/net (owned by the tenant
// uid). The driver opens the TAP itself in the daemon and hands the fd to the VMM, so the
// chroot needs no /dev/net/tun.
struct NetIface {
  std::string tap_name;           // e.g. "lt3"; must exist in the daemon's network namespace
  std::string mac;                // "06:00:0a:00:00:02"; "" = VMM default
  std::optional<RateLimiter> rx;  // host -> guest
  std::optional<RateLimiter> tx;  // guest -> host
  bool operator==(const NetIface&) const = default;
};

// Per-VM cgroup limits (written to memory, cpu and pids controllers, v1 or v2).
struct CgroupLimits {
  int64_t memory_bytes = 0;        // memory.max / memory.limit_in_bytes
  int64_t cpu_quota_us = 0;        // cpu.max quota / cpu.cfs_quota_us
  int64_t cpu_period_us = 100000;  // cpu.max period / cpu.cfs_period_us
  int64_t pids_max = 0;            // pids.max; 0 = unlimited
  bool operator==(const CgroupLimits&) const = default;
};

// The VMM's own memory beyond guest RAM that its cgroup allows: QEMU's heap and device state,
// its mapped binary and libraries (~90 MB resident), page tables, and the page cache its disk
// I/O is charged with. Spec §5.4's 128 MiB OOM-killed minimal guests on cgroup v1 hosts
// (issue 21). Under TCG the driver adds the translation cache (qemu::tcg_memory_limit).
inline constexpr int64_t kVmmOverheadMiB = 256;

// Memory = guest RAM + kVmmOverheadMiB; cpu = vcpus x 100 ms per 100 ms; pids 256 (a VMM
// cannot fork under its sandbox, but QEMU's block I/O pool alone may start 64 threads per
// AioContext and aborts when thread creation fails).
CgroupLimits default_limits(int64_t vcpus, int64_t mem_mib);

// Where and as whom the VMM runs.
struct Jail {
  uint32_t uid = 0;  // tenant uid (never 0 in production)
  uint32_t gid = 0;
  std::string chroot_dir;  // per-tenant, created by the driver and removed on stop
  bool operator==(const Jail&) const = default;
};

struct VmSpec {
  std::string id;         // short tenant id ([a-z0-9-], <= 32); names cgroups and sockets
  std::string kernel;     // uncompressed PVH vmlinux
  std::string initramfs;  // "" = none
  std::string cmdline;    // no secrets (guest contract)
  std::vector<Drive> drives;
  std::optional<NetIface> net;
  int64_t vcpus = 1;
  int64_t mem_mib = 256;
  CgroupLimits limits;  // usually default_limits(vcpus, mem_mib)
  Jail jail;
  std::string console_log_path;  // guest serial console output (appended)
  std::string vmm_log_path;      // the VMM's own log (stderr, Firecracker logger)
  std::string metrics_path;      // Firecracker metrics file; the qemu driver ignores it
  std::string run_dir;           // per-tenant dir for control sockets (path < 80 bytes)
  // Test/diagnostic hook: also expose the serial console as a Unix stream socket at this path
  // (qemu driver; "" = off). Never used by the daemon.
  std::string console_socket_for_test;
  bool operator==(const VmSpec&) const = default;
};

enum class VmState {
  kRunning,   // the guest executes
  kPaused,    // stopped by pause() or after a snapshot; resume() continues it
  kStarting,  // the VMM runs but the guest has not started yet (incoming migration, config)
  kExited,    // the VMM process is gone
};
std::string_view vm_state_name(VmState state);

struct VmStats {
  int64_t rss_bytes = 0;       // resident memory of the VMM process
  int64_t peak_rss_bytes = 0;  // its peak resident memory since it started (VmHWM)
  int64_t cpu_time_ms = 0;     // user + system CPU time of the VMM process
};

// Fills rss_bytes and peak_rss_bytes from the text of /proc/<pid>/status (VmRSS, VmHWM in kB);
// fields that are missing or malformed stay 0.
void read_proc_status_memory(std::string_view status, VmStats& out);

// What the daemon stores to re-attach after a restart. `start_time` is field 22 of
// /proc/<pid>/stat (clock ticks since boot); together with the pid it names one process
// for the lifetime of the host, and `exe` is checked by device and inode.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string exe;  // absolute path of the VMM binary
  bool operator==(const ProcessIdentity&) const = default;
};

// One running (or exited) VMM process. Not thread-safe: the tenant layer serialises calls per
// tenant. Destroying the handle does NOT stop the VM (VMMs outlive the daemon).
class Vm {
 public:
  virtual ~Vm() = default;

  virtual const ProcessIdentity& identity() const = 0;
  // Pauses the vCPUs. Idempotent. kInvalidState if the VMM exited.
  virtual Status pause() = 0;
  // Continues the vCPUs. Idempotent. kInvalidState if the VMM exited.
  virtual Status resume() = 0;
  // Pauses (if needed) and writes a full snapshot into `dir` (created 0700 if missing; files
  // 0600). The VM stays paused afterwards; the caller stops or resumes it. kSnapshotFailed.
  virtual Status snapshot(const std::string& dir) = 0;
  // Graceful shutdown request, waits up to `graceful_timeout_ms` for the VMM to exit, then
  // kills it through its pidfd. Afterwards no process, cgroup, chroot dir or socket of this VM
  // remains. Idempotent: stopping an exited VM only cleans up.
  virtual Status stop(int64_t graceful_timeout_ms) = 0;
  // kExited is decided by the pidfd; running vs paused by asking the VMM.
  virtual Result<VmState> state() = 0;
  // kInvalidState if the VMM exited.
  virtual Result<VmStats> stats() = 0;
};

class VmmDriver {
 public:
  virtual ~VmmDriver() = default;

  virtual std::string_view name() const = 0;  // "qemu" | "firecracker"
  // Starts a VMM for `spec`, boots the guest and returns once the guest runs (not once it is
  // ready: readiness is the agent's business). On failure everything created is removed.
  virtual Result<std::unique_ptr<Vm>> start(const VmSpec& spec) = 0;
  // Starts a VMM from a snapshot written by the same driver's Vm::snapshot(dir); the guest runs
  // when it returns. `spec` must describe the same machine (vcpus, mem, drives, net).
  virtual Result<std::unique_ptr<Vm>> restore(const std::string& dir, const VmSpec& spec) = 0;
  // Re-attaches to a VMM started earlier (possibly by a previous daemon). Fails with
  // kInvalidState if the pid is gone, or belongs to another process (start time or exe differ).
  virtual Result<std::unique_ptr<Vm>> attach(const VmSpec& spec, const ProcessIdentity& id) = 0;
};

// What choose_driver needs to know about the host; the real probe lives with each driver.
class HostProbe {
 public:
  virtual ~HostProbe() = default;
  virtual bool firecracker_binaries_present(const Config& cfg) const = 0;  // firecracker + jailer
  virtual bool kvm_usable() const = 0;  // a probe VM really booted with KVM (cached)
};

// vmm.driver: kQemu / kFirecracker are taken as configured, except that kFirecracker fails
// with kFirecrackerNotFound / kJailerNotFound / kKvmNotAvailable when it cannot run. kAuto
// yields kFirecracker when its binaries exist and KVM is usable, else kQemu. Never kAuto.
Result<VmmDriverKind> choose_driver(const Config& cfg, const HostProbe& probe);

// Reads /proc/<pid>/stat and /proc/<pid>/exe. kInvalidState if the process does not exist.
Result<ProcessIdentity> identity_of(pid_t pid, const std::string& proc_root = "/proc");
// True when `id` still names the same live process: same start time and the same executable
// (device + inode of /proc/<pid>/exe vs id.exe).
Result<bool> identity_matches(const ProcessIdentity& id, const std::string& proc_root = "/proc");

}  // namespace lobster::vmm
