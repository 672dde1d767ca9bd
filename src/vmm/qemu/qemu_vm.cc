#include "vmm/qemu/qemu_vm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include "core/fs.h"
#include "core/log.h"
#include "host/jail/jail.h"

namespace lobster::vmm::qemu {
namespace {

constexpr const char* kStateFile = "state.qemu";
constexpr const char* kMetaFile = "meta.json";
// Raised before every migration: QEMU's default 128 MiB/s cap dominates large snapshots.
constexpr int64_t kMaxBandwidth = int64_t{64} << 30;

Status snapshot_error(Error e, const std::string& what) {
  e.code = ErrorCode::kSnapshotFailed;
  e.message = what + ": " + e.message;
  return std::unexpected(e);
}

Result<int64_t> proc_field_sum(const std::string& stat, int first, int count) {
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return make_error(ErrorCode::kProtocolError, "bad stat line");
  size_t pos = close + 2;
  int64_t sum = 0;
  for (int field = 3; pos < stat.size(); ++field) {
    size_t end = stat.find(' ', pos);
    if (end == std::string::npos)
      end = stat.size();
    if (field >= first && field < first + count) {
      int64_t v = 0;
      std::from_chars(stat.data() + pos, stat.data() + end, v);
      sum += v;
    }
    pos = end + 1;
  }
  return sum;
}

}  // namespace

std::string qmp_socket_path(const VmSpec& spec) { return spec.run_dir + "/qmp.sock"; }

Status cleanup_vm_files(const VmSpec& spec, cgroup::Cgroups& cgroups) {
  LOB_TRY(cgroups.remove(spec.id, 10000));
  for (const auto& sock : {qmp_socket_path(spec), spec.console_socket_for_test}) {
    if (!sock.empty() && ::unlink(sock.c_str()) != 0 && errno != ENOENT) {
      return errno_error(ErrorCode::kIoFailed, "unlink " + sock);
    }
  }
  if (!spec.jail.chroot_dir.empty() && ::rmdir(spec.jail.chroot_dir.c_str()) != 0 &&
      errno != ENOENT) {
    return errno_error(ErrorCode::kIoFailed, "rmdir chroot " + spec.jail.chroot_dir);
  }
  // The run dir goes too once nothing else lives in it.
  if (::rmdir(spec.run_dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return errno_error(ErrorCode::kIoFailed, "rmdir " + spec.run_dir);
  }
  return ok();
}

Status QemuVm::require_alive(const char* op) const {
  if (jail::exited(pidfd_.get()) || !qmp_) {
    return make_error(ErrorCode::kInvalidState, "{} VM {}: the VMM process has exited", op,
                      spec_.id);
  }
  return ok();
}

Status QemuVm::pause() {
  LOB_TRY(require_alive("pause"));
  LOB_TRY(qmp_->execute("stop"));
  return ok();
}

Status QemuVm::resume() {
  LOB_TRY(require_alive("resume"));
  LOB_TRY(qmp_->execute("cont"));
  return ok();
}

Result<nlohmann::json> QemuVm::wait_migration(int64_t timeout_ms) {
  auto ev = qmp_->wait_event({"MIGRATION"}, timeout_ms, [](const nlohmann::json& e) {
    std::string status = e["data"].value("status", "");
    return status == "completed" || status == "failed" || status == "cancelled";
  });
  if (!ev)
    return std::unexpected(ev.error());
  std::string status = (*ev)["data"].value("status", "");
  if (status != "completed") {
    auto info = qmp_->execute("query-migrate");
    std::string why = info ? info->value("error-desc", status) : status;
    return make_error(ErrorCode::kSnapshotFailed, "migration {}: {}", status, why);
  }
  return ev;
}

Status QemuVm::snapshot(const std::string& dir) {
  LOB_TRY(require_alive("snapshot"));
  LOB_TRY(fs::ensure_dir(dir, 0700));
  std::string tmp = dir + "/" + kStateFile + ".tmp";
  std::string final_path = dir + "/" + kStateFile;
  ::unlink(tmp.c_str());
  UniqueFd file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!file)
    return errno_error(ErrorCode::kSnapshotFailed, "create " + tmp);
  auto run = [&]() -> Status {
    // A paused guest migrates in one pass; a running one would iterate on dirty pages.
    LOB_TRY(qmp_->execute("stop"));
    LOB_TRY(qmp_->execute("migrate-set-parameters", {{"max-bandwidth", kMaxBandwidth}}));
    LOB_TRY(qmp_->execute("getfd", {{"fdname", "snapshot"}}, 10000, file.get()));
    LOB_TRY(qmp_->execute("migrate", {{"uri", "fd:snapshot"}}));
    LOB_TRY(wait_migration(migrate_timeout_ms_));
    if (::fsync(file.get()) != 0)
      return errno_error(ErrorCode::kSnapshotFailed, "fsync " + tmp);
    nlohmann::json meta = {{"driver", "qemu"},
                           {"memMib", spec_.mem_mib},
                           {"vcpus", spec_.vcpus},
                           {"drives", spec_.drives.size()}};
    LOB_TRY(fs::write_file_atomic(dir + "/" + kMetaFile, meta.dump() + "\n", 0600));
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      return errno_error(ErrorCode::kSnapshotFailed, "rename " + tmp);
    }
    return ok();
  };
  auto r = run();
  if (!r) {
    ::unlink(tmp.c_str());
    Error e = r.error();
    if (e.detail.empty()) {
      // QEMU writes the reason for a failed migration to its stderr (the VMM log).
      auto log = fs::read_file(spec_.vmm_log_path).value_or("");
      e.detail = log.size() > 2000 ? log.substr(log.size() - 2000) : log;
    }
    return snapshot_error(std::move(e), "snapshot VM " + spec_.id);
  }
  return ok();
}

Status QemuVm::load_incoming(int fd) {
  LOB_TRY(require_alive("restore"));
  LOB_TRY(qmp_->execute("getfd", {{"fdname", "restore"}}, 10000, fd));
  LOB_TRY(qmp_->execute("migrate-incoming", {{"uri", "fd:restore"}}));
  LOB_TRY(wait_migration(migrate_timeout_ms_));
  LOB_TRY(qmp_->execute("cont"));
  return ok();
}

Status QemuVm::stop(int64_t graceful_timeout_ms) {
  if (!jail::exited(pidfd_.get()) && qmp_) {
    if (graceful_timeout_ms > 0) {
      // microvm has ACPI (GED power button); a guest that ignores it is quit below.
      if (qmp_->execute("system_powerdown", nullptr, 2000)) {
        jail::wait_exit(pidfd_.get(), graceful_timeout_ms);
      }
    }
    if (!jail::exited(pidfd_.get())) {
      (void)qmp_->execute("quit", nullptr, 2000);  // Best effort: the pidfd kill follows.
      jail::wait_exit(pidfd_.get(), 3000);
    }
  }
  qmp_.reset();
  if (!jail::exited(pidfd_.get())) {
    LOB_TRY(jail::kill(pidfd_.get(), SIGKILL));
  }
  if (!jail::wait_exit(pidfd_.get(), 10000)) {
    return make_error(ErrorCode::kExecTimeout, "VM {} (pid {}) did not exit after SIGKILL",
                      spec_.id, identity_.pid);
  }
  LOB_TRY(cleanup_vm_files(spec_, cgroups_));
  log::info("vmm.stopped", {{"vm", spec_.id}, {"pid", identity_.pid}});
  return ok();
}

Result<VmState> QemuVm::state() {
  if (jail::exited(pidfd_.get()) || !qmp_)
    return VmState::kExited;
  auto st = qmp_->execute("query-status", nullptr, 5000);
  if (!st) {
    if (jail::exited(pidfd_.get()))
      return VmState::kExited;
    return std::unexpected(st.error());
  }
  std::string status = st->value("status", "");
  if (status == "running")
    return VmState::kRunning;
  if (status == "inmigrate" || status == "prelaunch")
    return VmState::kStarting;
  // paused, postmigrate, finish-migrate, suspended, internal-error, ...: vCPUs do not run.
  return VmState::kPaused;
}

Result<VmStats> QemuVm::stats() {
  LOB_TRY(require_alive("stats"));
  std::string dir = "/proc/" + std::to_string(identity_.pid);
  VmStats s;
  read_proc_status_memory(LOB_TRY(fs::read_file(dir + "/status")), s);
  auto stat = LOB_TRY(fs::read_file(dir + "/stat"));
  int64_t ticks = LOB_TRY(proc_field_sum(stat, 14, 2));  // utime + stime
  long hz = ::sysconf(_SC_CLK_TCK);
  s.cpu_time_ms = ticks * 1000 / (hz > 0 ? hz : 100);
  return s;
}

}  // namespace lobster::vmm::qemu
