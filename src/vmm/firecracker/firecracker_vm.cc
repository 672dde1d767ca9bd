#include "vmm/firecracker/firecracker_vm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "core/fs.h"
#include "core/log.h"
#include "vmm/firecracker/jail_process.h"

namespace lobster::vmm::firecracker {

FirecrackerVm::FirecrackerVm(JailLayout layout, const FirecrackerOptions& options, UniqueFd pidfd,
                             ProcessIdentity identity)
    : layout_(std::move(layout)),
      proc_root_(options.proc_root),
      snapshot_timeout_ms_(options.snapshot_timeout_ms),
      api_(layout_.socket, options.api_timeout_ms),
      pidfd_(std::move(pidfd)),
      identity_(std::move(identity)) {}

Status FirecrackerVm::require_running(std::string_view op) const {
  if (has_exited(pidfd_.get())) {
    return make_error(ErrorCode::kInvalidState, "{} {}: the VMM process {} has exited", op,
                      layout_.jailer.vm_id, identity_.pid);
  }
  return ok();
}

// Idempotent: the PATCH is sent only when the VM is not already in the wanted state.
Status FirecrackerVm::pause() {
  LOB_TRY(require_running("pause"));
  if (LOB_TRY(state()) == VmState::kPaused) {
    return ok();
  }
  LOB_TRY(api_.call(patch_vm_state(true), ErrorCode::kVmmFailed));
  return ok();
}

Status FirecrackerVm::resume() {
  LOB_TRY(require_running("resume"));
  if (LOB_TRY(state()) == VmState::kRunning) {
    return ok();
  }
  LOB_TRY(api_.call(patch_vm_state(false), ErrorCode::kVmmFailed));
  return ok();
}

Status FirecrackerVm::snapshot(const std::string& dir) {
  LOB_TRY(require_running("snapshot"));
  LOB_TRY(pause());
  auto made = fs::ensure_dir(dir, 0700);
  if (!made)
    return make_error(ErrorCode::kSnapshotFailed, "{}", made.error().message);
  ApiClient slow(layout_.socket, snapshot_timeout_ms_);
  LOB_TRY(slow.call(
      snapshot_create(std::string("/") + kSnapshotStateFile, std::string("/") + kSnapshotMemFile),
      ErrorCode::kSnapshotFailed));
  // Hard links, never copies (spec §16 item 26): the files Firecracker wrote in the jail become
  // the snapshot. Each is linked under a temporary name and renamed, so an older snapshot is
  // replaced atomically; then the jail's name is dropped so a later snapshot cannot rewrite it.
  for (const char* name : {kSnapshotStateFile, kSnapshotMemFile}) {
    const std::string src = layout_.root + "/" + name;
    const std::string tmp = dir + "/." + name + ".tmp";
    const std::string dst = dir + "/" + name;
    if (::chmod(src.c_str(), 0600) != 0) {
      return errno_error(ErrorCode::kSnapshotFailed, "chmod 0600 " + src);
    }
    ::unlink(tmp.c_str());
    if (::link(src.c_str(), tmp.c_str()) != 0) {
      const int e = errno;
      Error err =
          make_sys_error(ErrorCode::kSnapshotFailed, e, "hard-link " + src + " -> " + tmp).error();
      if (e == EXDEV)
        err.hint = "put the snapshot directory on the jail's filesystem";
      return make_error(std::move(err));
    }
    if (::rename(tmp.c_str(), dst.c_str()) != 0) {
      return errno_error(ErrorCode::kSnapshotFailed, "rename " + tmp + " -> " + dst);
    }
    ::unlink(src.c_str());
  }
  return ok();
}

Status FirecrackerVm::stop(int64_t graceful_timeout_ms) {
  if (!has_exited(pidfd_.get())) {
    // Ctrl-Alt-Del only reaches a running guest (reboot=k makes Firecracker exit).
    auto info = api_.call(describe_instance(), ErrorCode::kVmmFailed);
    const bool running = info && info->is_object() && info->value("state", "") == "Running";
    if (running && api_.call(send_ctrl_alt_del(), ErrorCode::kVmmFailed)) {
      wait_exit(pidfd_.get(), graceful_timeout_ms);
    }
    if (!has_exited(pidfd_.get())) {
      log::info("vmm.firecracker.kill", {{"vm", layout_.jailer.vm_id}, {"pid", identity_.pid}});
    }
    LOB_TRY(kill_and_wait(pidfd_.get(), 5'000));
  } else {
    (void)exit_description(pidfd_.get());  // reap if ours
  }
  return remove_jail(layout_);
}

Result<VmState> FirecrackerVm::state() {
  if (has_exited(pidfd_.get()))
    return VmState::kExited;
  auto info = api_.call(describe_instance(), ErrorCode::kVmmFailed);
  if (!info) {
    if (has_exited(pidfd_.get()))
      return VmState::kExited;
    return make_error(std::move(info).error());
  }
  const std::string s = info->is_object() ? info->value("state", "") : "";
  if (s == "Running")
    return VmState::kRunning;
  if (s == "Paused")
    return VmState::kPaused;
  if (s == "Not started")
    return VmState::kStarting;
  return make_error(ErrorCode::kProtocolError, "GET / of {}: unknown state '{}'",
                    layout_.jailer.vm_id, s);
}

Result<VmStats> FirecrackerVm::stats() {
  LOB_TRY(require_running("stats"));
  const std::string dir = proc_root_ + "/" + std::to_string(identity_.pid);
  auto status = fs::read_file(dir + "/status");
  auto stat = fs::read_file(dir + "/stat");
  // The pidfd pins the process: if it is still alive after the reads, they described it.
  LOB_TRY(require_running("stats"));
  if (!status || !stat)
    return make_error(ErrorCode::kInvalidState, "cannot read {}", dir);
  VmStats out;
  read_proc_status_memory(*status, out);
  // utime and stime are fields 14 and 15; count after the last ')' (comm may hold spaces).
  std::istringstream fields(stat->substr(stat->rfind(')') + 2));
  std::string field;
  int64_t ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14)
      ticks += std::stoll(field);
  }
  out.cpu_time_ms = ticks * 1000 / ::sysconf(_SC_CLK_TCK);
  return out;
}

}  // namespace lobster::vmm::firecracker
