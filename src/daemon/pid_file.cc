#include "daemon/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace lobster::daemon {
namespace {

std::optional<pid_t> read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0)
    return std::nullopt;
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  if (end == buf || v <= 0)
    return std::nullopt;
  return static_cast<pid_t>(v);
}

Result<std::optional<pid_t>> holder_once(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      return std::optional<pid_t>();
    return errno_error(ErrorCode::kIoFailed, "open pid file " + path);
  }
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
    return std::optional<pid_t>();  // Nobody holds it; our shared lock drops with the fd.
  }
  if (errno != EWOULDBLOCK)
    return errno_error(ErrorCode::kIoFailed, "flock " + path);
  std::optional<pid_t> pid = read_pid(fd.get());
  // Locked but no pid yet: the holder is between flock() and write(); report it as running.
  return pid.has_value() ? pid : std::optional<pid_t>(0);
}

}  // namespace

Result<PidFile> PidFile::acquire(const std::string& path) {
  // A few quick retries absorb a concurrent holder() probe, which takes a shared lock briefly.
  for (int attempt = 0;; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd)
      return errno_error(ErrorCode::kIoFailed, "open pid file " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK)
        return errno_error(ErrorCode::kIoFailed, "flock " + path);
      std::optional<pid_t> pid = read_pid(fd.get());
      if (attempt < 5 && !pid) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      Error e{ErrorCode::kDaemonRunning,
              fmt::format("a lobsterd daemon already runs for this root (pid {}, lock {})",
                          pid.value_or(0), path)};
      e.hint = "use it (`lobsterd status`), or stop it first (kill -TERM <pid>)";
      return make_error(std::move(e));
    }
    // The previous owner unlinks the file before releasing it; if we locked such an unlinked
    // inode, start over with the file now at `path`.
    struct stat by_fd {
    }, by_path{};
    if (::fstat(fd.get(), &by_fd) != 0)
      return errno_error(ErrorCode::kIoFailed, "fstat " + path);
    if (::stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino ||
        by_fd.st_dev != by_path.st_dev) {
      continue;
    }
    std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 ||
        ::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      return errno_error(ErrorCode::kIoFailed, "write pid file " + path);
    }
    return PidFile(path, std::move(fd));
  }
}

Result<std::optional<pid_t>> PidFile::holder(const std::string& path) { return holder_once(path); }

PidFile::~PidFile() {
  if (fd_)
    ::unlink(path_.c_str());
}

}  // namespace lobster::daemon
