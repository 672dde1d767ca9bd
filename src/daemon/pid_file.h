// PidFile: one daemon per state root. The daemon holds an exclusive flock(2) on
// <run_dir>/lobsterd.pid for its whole life and writes its pid into it; the kernel drops the
// lock when the process dies, so a stale file never blocks a new daemon (spec §16 item 2).
//
//   auto pid_file = LOB_TRY(PidFile::acquire(paths.pid_file()));   // kDaemonRunning if taken
//   ...                                                             // file removed on destruction
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::daemon {

class PidFile {
 public:
  // Creates or opens `path` (0644), takes the lock without waiting and writes getpid().
  // Errors: kDaemonRunning (names the holder's pid), kIoFailed.
  static Result<PidFile> acquire(const std::string& path);

  // The pid of the live process holding the lock on `path`, or nullopt when no one holds it
  // (missing file included). Errors: kIoFailed.
  static Result<std::optional<pid_t>> holder(const std::string& path);

  PidFile(PidFile&&) = default;
  PidFile& operator=(PidFile&&) = default;
  ~PidFile();  // unlinks the file while still holding the lock, then releases it

 private:
  PidFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace lobster::daemon
