#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <mutex>

#include "core/unique_fd.h"

namespace lobster::log {
namespace {

struct State {
  std::mutex mu;
  UniqueFd fd;
  Level level = Level::kInfo;
  bool to_stderr = false;
};

State& state() {
  static State s;
  return s;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return;
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace

Status init_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) {
    return errno_error(ErrorCode::kIoFailed, "open log file " + path);
  }
  std::lock_guard lock(state().mu);
  state().fd = std::move(fd);
  return ok();
}

void set_level(Level level) {
  std::lock_guard lock(state().mu);
  state().level = level;
}

void set_stderr(bool on) {
  std::lock_guard lock(state().mu);
  state().to_stderr = on;
}

void write(Level level, std::string_view event, const nlohmann::json& fields) {
  State& s = state();
  std::lock_guard lock(s.mu);
  bool has_file = static_cast<bool>(s.fd);
  bool to_stderr = s.to_stderr || (!has_file && level >= Level::kWarn);
  if (level < s.level || (!has_file && !to_stderr)) {
    return;
  }
  nlohmann::json rec = nlohmann::json::object();
  rec["ts"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  rec["level"] = level_name(level);
  rec["event"] = event;
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) {
      rec[k] = v;
    }
  }
  std::string line = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (has_file) {
    write_all(s.fd.get(), line);
  }
  if (to_stderr) {
    write_all(STDERR_FILENO, line);
  }
}

}  // namespace lobster::log
