#include "vmm/qemu/qemu_driver.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "core/log.h"
#include "core/rollback.h"
#include "host/jail/jail.h"
#include "vmm/qemu/qemu_args.h"
#include "vmm/qemu/qemu_vm.h"

namespace lobster::vmm::qemu {
namespace {

constexpr int kTapChildFd = 3;
constexpr int kFirstDriveChildFd = 10;  // drive i: read-only at 10 + 2i, read-write at 11 + 2i

Result<UniqueFd> open_tap(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return make_error(ErrorCode::kValidationFailed, "invalid TAP name '{}'", name);
  }
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd)
    return errno_error(ErrorCode::kVmBootFailed, "open /dev/net/tun");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  // IFF_VNET_HDR lets QEMU use checksum/segmentation offload on the TAP.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  // Kernel ABI: TUNSETIFF takes a struct ifreq; attaching to an existing persistent TAP.
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
    return errno_error(ErrorCode::kVmBootFailed, "attach to TAP " + name);
  }
  return fd;
}

std::string log_tail(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text)
    return "";
  return text->size() > 2000 ? text->substr(text->size() - 2000) : *text;
}

Status validate(const VmSpec& spec) {
  if (spec.id.empty() || spec.id.size() > 32 ||
      spec.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return make_error(ErrorCode::kValidationFailed, "invalid VM id '{}'", spec.id);
  }
  if (spec.run_dir.empty() || qmp_socket_path(spec).size() >= 100) {
    return make_error(ErrorCode::kValidationFailed, "run dir '{}' missing or too long",
                      spec.run_dir);
  }
  if (spec.jail.chroot_dir.empty() || spec.console_log_path.empty() || spec.vmm_log_path.empty()) {
    return make_error(ErrorCode::kValidationFailed,
                      "VM {} needs a chroot dir, a console log and a VMM log", spec.id);
  }
  if (spec.vcpus < 1 || spec.mem_mib < 64) {
    return make_error(ErrorCode::kValidationFailed, "VM {}: vcpus >= 1 and mem >= 64 MiB", spec.id);
  }
  for (const auto& f : {spec.kernel, spec.initramfs}) {
    if (!f.empty() && !fs::exists(f)) {
      return make_error(ErrorCode::kVmBootFailed, "VM {}: missing {}", spec.id, f);
    }
  }
  return ok();
}

Status apply_tc(process::ProcessRunner& runner, const NetIface& net) {
  auto plan = tc_plan(net.tap_name, net.rx, net.tx);
  for (const auto& cmd : plan.reset) LOB_TRY(runner.run(cmd, {.timeout_ms = 10000}));
  for (const auto& cmd : plan.rx) {
    auto r = runner.run_checked(cmd, {.timeout_ms = 10000});
    if (!r) {
      Error e = r.error();
      e.code = ErrorCode::kNetworkFailed;
      return std::unexpected(e);
    }
  }
  for (const auto& cmd : plan.tx) {
    auto r = runner.run_checked(cmd, {.timeout_ms = 10000});
    if (!r) {
      LOB_TRY(runner.run(plan.tx_undo, {.timeout_ms = 10000}));
      log::warn("vmm.net_tx_limit_unavailable",
                {{"tap", net.tap_name}, {"error", r.error().to_string()}});
      break;
    }
  }
  return ok();
}

// Waits for QEMU's QMP socket while watching the process; an early exit is a boot failure
// with QEMU's own message attached.
Result<QmpClient> connect_qmp(const VmSpec& spec, int pidfd, int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string path = qmp_socket_path(spec);
  for (;;) {
    if (jail::exited(pidfd)) {
      Error e{ErrorCode::kVmBootFailed, "QEMU for VM " + spec.id + " exited during start-up"};
      e.detail = log_tail(spec.vmm_log_path);
      return std::unexpected(e);
    }
    if (fs::exists(path)) {
      auto c = QmpClient::connect(path, 5000);
      if (c)
        return c;
      if (std::chrono::steady_clock::now() >= deadline)
        return std::unexpected(c.error());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::kExecTimeout, "QEMU for VM {}: no QMP socket after {} ms",
                        spec.id, timeout_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Result<std::unique_ptr<Vm>> QemuDriver::launch(const VmSpec& spec, bool incoming) {
  LOB_TRY(validate(spec));
  Rollback rb("start VM " + spec.id);
  LOB_TRY(fs::ensure_dir(spec.run_dir, 0700));
  // QEMU chroots into an empty, root-owned directory after opening every file it needs.
  if (fs::exists(spec.jail.chroot_dir) && ::rmdir(spec.jail.chroot_dir.c_str()) != 0) {
    return errno_error(ErrorCode::kJailerSetupFailed,
                       "chroot dir " + spec.jail.chroot_dir + " exists and is not empty");
  }
  LOB_TRY(fs::ensure_dir(spec.jail.chroot_dir, 0755));
  rb.push("remove VM files", [this, spec] { return cleanup_vm_files(spec, cgroups_); });
  const bool kvm = probe_ && probe_->kvm_usable();
  LOB_TRY(cgroups_.ensure(
      spec.id,
      {.memory_bytes = kvm ? spec.limits.memory_bytes : tcg_memory_limit(spec.limits.memory_bytes),
       .cpu_quota_us = spec.limits.cpu_quota_us,
       .cpu_period_us = spec.limits.cpu_period_us,
       .pids_max = spec.limits.pids_max}));
  for (const auto& p : {qmp_socket_path(spec), spec.console_socket_for_test}) {
    if (!p.empty())
      ::unlink(p.c_str());
  }
  UniqueFd tap;
  if (spec.net) {
    tap = LOB_TRY(open_tap(spec.net->tap_name));
    LOB_TRY(apply_tc(runner_, *spec.net));
  }
  UniqueFd log_fd(
      ::open(spec.vmm_log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd)
    return errno_error(ErrorCode::kVmBootFailed, "open " + spec.vmm_log_path);
  UniqueFd console_fd(
      ::open(spec.console_log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!console_fd)
    return errno_error(ErrorCode::kVmBootFailed, "open " + spec.console_log_path);

  std::vector<UniqueFd> drive_fds;
  std::vector<std::pair<int, int>> drive_child_fds;
  Launch launch;
  for (size_t i = 0; i < spec.drives.size(); ++i) {
    const Drive& d = spec.drives[i];
    Launch::DriveFds child;
    for (bool rw : {false, true}) {
      if (rw && d.read_only)
        continue;
      UniqueFd fd(::open(d.path.c_str(), (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC));
      if (!fd)
        return errno_error(ErrorCode::kVmBootFailed, "open drive " + d.path);
      int target = kFirstDriveChildFd + static_cast<int>(2 * i) + (rw ? 1 : 0);
      (rw ? child.read_write : child.read_only) = target;
      drive_fds.push_back(std::move(fd));
      drive_child_fds.emplace_back(drive_fds.back().get(), target);
    }
    launch.drive_fds.push_back(child);
  }
  launch.binary = options_.binary;
  launch.kvm = kvm;
  launch.tsc_khz = launch.kvm ? 0 : host_tsc_khz();
  launch.tap_fd = tap ? kTapChildFd : -1;
  launch.qmp_socket = qmp_socket_path(spec);
  launch.incoming = incoming;
  auto argv = qemu_args(spec, launch);
  jail::SpawnSpec ss;
  ss.argv = argv;
  ss.env = {"PATH=/usr/bin:/bin"};
  if (tap) {
    ss.fds.emplace_back(tap.get(), kTapChildFd);
  }
  ss.fds.insert(ss.fds.end(), drive_child_fds.begin(), drive_child_fds.end());
  ss.stdout_fd = log_fd.get();
  ss.stderr_fd = log_fd.get();
  ss.before_exec = [this, &spec](pid_t pid) { return cgroups_.add_process(spec.id, pid); };
  auto child = LOB_TRY(jail::spawn(ss));
  int raw_pidfd = child.pidfd.get();
  rb.push("kill QEMU", [raw_pidfd] {
    (void)jail::kill(raw_pidfd, SIGKILL);  // Best effort; waited for right after.
    jail::wait_exit(raw_pidfd, 10000);
    return ok();
  });
  log::info("vmm.spawned", {{"vm", spec.id},
                            {"pid", child.pid},
                            {"kvm", launch.kvm},
                            {"argv", process::argv_to_string(argv)}});
  auto qmp = LOB_TRY(connect_qmp(spec, child.pidfd.get(), options_.boot_timeout_ms));
  LOB_TRY(qmp.execute("migrate-set-capabilities",
                      {{"capabilities", {{{"capability", "events"}, {"state", true}}}}}));
  // The start time never changes across exec, so reading it now names this process.
  ProcessIdentity id = LOB_TRY(identity_of(child.pid));
  std::error_code ec;
  id.exe = std::filesystem::canonical(options_.binary, ec).string();
  if (ec)
    id.exe = options_.binary;
  auto vm = std::make_unique<QemuVm>(spec, id, std::move(child.pidfd), std::move(qmp), cgroups_,
                                     options_.migrate_timeout_ms);
  rb.commit();
  return std::unique_ptr<Vm>(std::move(vm));
}

Result<std::unique_ptr<Vm>> QemuDriver::start(const VmSpec& spec) {
  auto vm = LOB_TRY(launch(spec, false));
  auto st = vm->state();
  if (!st || *st != VmState::kRunning) {
    (void)vm->stop(0);  // Best effort cleanup; the boot error below is what matters.
    Error e{ErrorCode::kVmBootFailed, "VM " + spec.id + " is not running after start"};
    e.detail = log_tail(spec.vmm_log_path);
    return std::unexpected(e);
  }
  return vm;
}

Result<std::unique_ptr<Vm>> QemuDriver::restore(const std::string& dir, const VmSpec& spec) {
  std::string state = dir + "/state.qemu";
  auto meta_text = fs::read_file(dir + "/meta.json");
  if (!meta_text || !fs::exists(state)) {
    return make_error(ErrorCode::kSnapshotFailed, "no qemu snapshot in {}", dir);
  }
  auto meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (!meta.is_object() || meta.value("memMib", int64_t{-1}) != spec.mem_mib ||
      meta.value("vcpus", int64_t{-1}) != spec.vcpus ||
      meta.value("drives", size_t{0}) != spec.drives.size()) {
    return make_error(ErrorCode::kSnapshotFailed,
                      "snapshot in {} was taken from a different machine shape", dir);
  }
  UniqueFd fd(::open(state.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return errno_error(ErrorCode::kSnapshotFailed, "open " + state);
  auto vm = LOB_TRY(launch(spec, true));
  auto* qvm = static_cast<QemuVm*>(vm.get());
  auto loaded = qvm->load_incoming(fd.get());
  if (!loaded) {
    (void)vm->stop(0);  // Best effort cleanup; the load error is reported.
    Error e = loaded.error();
    e.code = ErrorCode::kSnapshotFailed;
    e.message = "restore VM " + spec.id + " from " + dir + ": " + e.message;
    if (e.detail.empty())
      e.detail = log_tail(spec.vmm_log_path);
    return std::unexpected(e);
  }
  return vm;
}

Result<std::unique_ptr<Vm>> QemuDriver::attach(const VmSpec& spec, const ProcessIdentity& id) {
  if (!LOB_TRY(identity_matches(id))) {
    return make_error(ErrorCode::kInvalidState,
                      "VM {}: pid {} is gone or is another process (start time or exe differ)",
                      spec.id, id.pid);
  }
  auto pidfd = LOB_TRY(jail::pidfd_open(id.pid));
  // The pid could have been recycled between the check and pidfd_open: check again, now that
  // the pidfd pins the process.
  if (!LOB_TRY(identity_matches(id))) {
    return make_error(ErrorCode::kInvalidState, "VM {}: pid {} changed during attach", spec.id,
                      id.pid);
  }
  auto qmp = LOB_TRY(QmpClient::connect(qmp_socket_path(spec), 5000));
  return std::unique_ptr<Vm>(std::make_unique<QemuVm>(spec, id, std::move(pidfd), std::move(qmp),
                                                      cgroups_, options_.migrate_timeout_ms));
}

}  // namespace lobster::vmm::qemu
