#include "guest/pid1.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/unique_fd.h"
#include "guest/guest_config.h"

namespace lobster::guest {

void mount_early_filesystems(const std::function<void(const std::string&)>& note) {
  struct M {
    const char* source;
    const char* target;
    const char* type;
    unsigned long flags;
    const char* data;
  };
  const M mounts[] = {
      {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
      {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
      {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
      {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
      {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m"},
      {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"},
  };
  for (const M& m : mounts) {
    ::mkdir(m.target, 0755);
    if (::mount(m.source, m.target, m.type, m.flags, m.data) != 0 && errno != EBUSY) {
      note(std::string("mount ") + m.target + ": " + std::strerror(errno));
    }
  }
  ::symlink("/proc/self/fd", "/dev/fd");
  ::symlink("pts/ptmx", "/dev/ptmx");
}

void end_boot_lockup_panic(const std::function<void(const std::string&)>& note) {
  if (::getpid() != 1) {
    return;  // started by hand for testing: never change the host's kernel settings
  }
  // procfs files are written in place (no temp file and rename).
  UniqueFd fd(::open("/proc/sys/kernel/softlockup_panic", O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "0\n", 2) != 2) {
    note(std::string("softlockup_panic: ") + std::strerror(errno));
  }
}

Result<std::string> find_config_device() {
  if (const char* env = std::getenv("LOBSTER_CONFIG_DEV"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  std::vector<std::string> candidates;
  if (DIR* d = ::opendir("/dev")) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      // Whole disks only (vda, vdb, ...), not partitions.
      if (n.size() == 3 && n.starts_with("vd")) {
        candidates.push_back("/dev/" + n);
      }
    }
    ::closedir(d);
  }
  for (const auto& path : candidates) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      continue;
    }
    char head[16] = {};
    if (::read(fd.get(), head, sizeof(head)) >= static_cast<ssize_t>(kConfigMagic.size()) &&
        has_config_magic(std::string_view(head, sizeof(head)))) {
      return path;
    }
  }
  return make_error(ErrorCode::kConfigNotFound,
                    "no config disk: LOBSTER_CONFIG_DEV unset and no /dev/vd* carries the magic");
}

void set_clock_floor(int64_t host_time_ms, const std::function<void(const std::string&)>& note) {
  if (host_time_ms <= 0) {
    return;
  }
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  int64_t now_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  if (now_ms >= host_time_ms) {
    return;
  }
  timespec ts{static_cast<time_t>(host_time_ms / 1000),
              static_cast<long>((host_time_ms % 1000) * 1'000'000)};
  if (::clock_settime(CLOCK_REALTIME, &ts) != 0) {
    note(std::string("set clock: ") + std::strerror(errno));
  }
}

void reap_children(const std::function<void(pid_t, int)>& on_exit) {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      return;
    }
    on_exit(pid, status);
  }
}

void power_off(const std::function<void(const std::string&)>& note) {
  ::sync();
  if (::getpid() != 1) {
    return;  // never unmount anything of a host we were started on for testing
  }
  const char* targets[] = {"/tmp", "/run", "/dev/pts"};
  for (const char* t : targets) {
    if (::umount2(t, MNT_DETACH) != 0 && errno != EINVAL) {
      note(std::string("umount ") + t + ": " + std::strerror(errno));
    }
  }
  // No read-only remount of "/": it would change the superblock of whatever backs the root
  // (in a namespace test: the host's). sync() above made the overlay's data durable.
  ::sync();
  ::reboot(RB_POWER_OFF);
  note(std::string("reboot(RB_POWER_OFF): ") + std::strerror(errno));
  for (;;) {
    ::pause();
  }
}

}  // namespace lobster::guest
