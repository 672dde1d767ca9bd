// RotatingLog: a size-capped log file written by lobster-init itself (children's stdout/stderr
// arrive through pipes, so no child can grow a log past the cap). When a write would pass
// max_bytes the file is renamed to "<path>.1" (replacing the older one) and a new file starts:
// at most 2 * max_bytes on disk per service (guest contract: 1 MiB, keep 1 old).
//
//   RotatingLog log("/var/log/lobster/gateway.log", 1 << 20);
//   log.append(chunk);
//   std::string last = read_log_tail(log.path(), 4000);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/unique_fd.h"

namespace lobster::guest {

// Pure rotation decision: does appending `incoming` bytes to a file of `current` bytes need a
// rotation first? A single write larger than the cap is truncated by the caller, not rotated
// forever.
bool needs_rotation(size_t current, size_t incoming, size_t max_bytes);

class RotatingLog {
 public:
  RotatingLog(std::string path, size_t max_bytes);

  // Appends data (best effort: a full or read-only disk never stops PID 1). Data larger than
  // max_bytes keeps only its last max_bytes.
  void append(std::string_view data);
  const std::string& path() const { return path_; }
  size_t size() const { return size_; }

 private:
  void open();
  void rotate();

  std::string path_;
  size_t max_bytes_;
  size_t size_ = 0;
  UniqueFd fd_;
};

// The last `max_chars` bytes of the log, reading into "<path>.1" when the current file is
// shorter. Empty if neither file is readable.
std::string read_log_tail(const std::string& path, size_t max_chars);

}  // namespace lobster::guest
