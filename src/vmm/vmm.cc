#include "vmm/vmm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <filesystem>

#include "core/fs.h"

namespace lobster::vmm {

CgroupLimits default_limits(int64_t vcpus, int64_t mem_mib) {
  CgroupLimits l;
  l.memory_bytes = (mem_mib + kVmmOverheadMiB) * 1024 * 1024;
  l.cpu_period_us = 100000;
  l.cpu_quota_us = vcpus * 100000;
  l.pids_max = 256;
  return l;
}

void read_proc_status_memory(std::string_view status, VmStats& out) {
  auto kib = [&](std::string_view key) -> int64_t {
    size_t pos = status.find(key);
    if (pos == std::string_view::npos)
      return 0;
    pos = status.find_first_not_of(" \t", pos + key.size());
    if (pos == std::string_view::npos)
      return 0;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(status.data() + pos, status.data() + status.size(), v);
    (void)p;
    return ec == std::errc() && v >= 0 ? v * 1024 : 0;
  };
  out.rss_bytes = kib("\nVmRSS:");
  out.peak_rss_bytes = kib("\nVmHWM:");
}

std::string_view vm_state_name(VmState state) {
  switch (state) {
    case VmState::kRunning:
      return "running";
    case VmState::kPaused:
      return "paused";
    case VmState::kStarting:
      return "starting";
    case VmState::kExited:
      return "exited";
  }
  return "unknown";
}

Result<VmmDriverKind> choose_driver(const Config& cfg, const HostProbe& probe) {
  switch (cfg.vmm.driver) {
    case VmmDriverKind::kQemu:
      return VmmDriverKind::kQemu;
    case VmmDriverKind::kFirecracker: {
      if (::access(cfg.firecracker.binary_path.c_str(), X_OK) != 0) {
        return with_hint(Error{ErrorCode::kFirecrackerNotFound,
                               "firecracker binary not found: " + cfg.firecracker.binary_path},
                         "install firecracker or set vmm.driver to \"qemu\" or \"auto\"");
      }
      if (::access(cfg.jailer.binary_path.c_str(), X_OK) != 0) {
        return with_hint(
            Error{ErrorCode::kJailerNotFound, "jailer binary not found: " + cfg.jailer.binary_path},
            "install jailer or set vmm.driver to \"qemu\" or \"auto\"");
      }
      if (!probe.kvm_usable()) {
        return with_hint(
            Error{ErrorCode::kKvmNotAvailable, "KVM is not usable: a probe VM did not boot"},
            "firecracker needs KVM; set vmm.driver to \"qemu\" to use TCG");
      }
      return VmmDriverKind::kFirecracker;
    }
    case VmmDriverKind::kAuto:
      if (probe.firecracker_binaries_present(cfg) && probe.kvm_usable()) {
        return VmmDriverKind::kFirecracker;
      }
      return VmmDriverKind::kQemu;
  }
  return make_error(ErrorCode::kInternal, "unknown vmm driver kind");
}

namespace {

// Field 22 (starttime) of /proc/<pid>/stat. The comm field (2) may contain spaces and
// parentheses, so fields are counted after the LAST ')'.
Result<uint64_t> parse_start_time(const std::string& stat) {
  auto close = stat.rfind(')');
  if (close == std::string::npos) {
    return make_error(ErrorCode::kProtocolError, "malformed /proc stat line");
  }
  size_t pos = close + 1;
  int field = 2;
  while (pos < stat.size()) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    size_t end = stat.find(' ', pos);
    if (end == std::string::npos)
      end = stat.size();
    ++field;
    if (field == 22) {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(stat.data() + pos, stat.data() + end, v);
      if (ec != std::errc() || p != stat.data() + end) {
        return make_error(ErrorCode::kProtocolError, "malformed starttime in /proc stat line");
      }
      return v;
    }
    pos = end;
  }
  return make_error(ErrorCode::kProtocolError, "short /proc stat line");
}

}  // namespace

Result<ProcessIdentity> identity_of(pid_t pid, const std::string& proc_root) {
  std::string dir = proc_root + "/" + std::to_string(pid);
  auto stat = fs::read_file(dir + "/stat");
  if (!stat) {
    return make_error(ErrorCode::kInvalidState, "process {} does not exist", pid);
  }
  ProcessIdentity id;
  id.pid = pid;
  id.start_time = LOB_TRY(parse_start_time(*stat));
  std::array<char, 4096> buf{};
  ssize_t n = ::readlink((dir + "/exe").c_str(), buf.data(), buf.size() - 1);
  if (n < 0) {
    return errno_error(ErrorCode::kInvalidState, "readlink " + dir + "/exe");
  }
  id.exe.assign(buf.data(), static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (id.exe.ends_with(kDeleted)) {
    id.exe.resize(id.exe.size() - kDeleted.size());
  }
  return id;
}

Result<bool> identity_matches(const ProcessIdentity& id, const std::string& proc_root) {
  if (id.pid <= 0) {
    return false;
  }
  auto now = identity_of(id.pid, proc_root);
  if (!now) {
    return false;
  }
  if (now->start_time != id.start_time) {
    return false;
  }
  // Compare the executable by identity, not by name: stat() follows /proc/<pid>/exe to the
  // very inode the process runs, whatever mount namespace or chroot it lives in.
  struct stat running {};
  struct stat expected {};
  std::string exe_link = proc_root + "/" + std::to_string(id.pid) + "/exe";
  if (::stat(exe_link.c_str(), &running) != 0) {
    return false;
  }
  if (::stat(id.exe.c_str(), &expected) != 0) {
    return errno_error(ErrorCode::kInvalidState, "stat " + id.exe);
  }
  return running.st_dev == expected.st_dev && running.st_ino == expected.st_ino;
}

}  // namespace lobster::vmm
