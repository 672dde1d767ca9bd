#include "core/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "core/unique_fd.h"

namespace lobster::fs {

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kIoFailed, "open " + path);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(ErrorCode::kIoFailed, "read " + path);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_tail(const std::string& path, size_t max_lines, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kIoFailed, "open " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return errno_error(ErrorCode::kIoFailed, "stat " + path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  const size_t start = size > max_bytes ? size - max_bytes : 0;
  std::string out(size - start, '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n =
        ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error(ErrorCode::kIoFailed, "read " + path);
    }
    if (n == 0) {
      break;  // the file shrank meanwhile
    }
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  if (start > 0) {
    size_t nl = out.find('\n');
    out.erase(0, nl == std::string::npos ? out.size() : nl + 1);
  }
  if (max_lines == 0) {
    return std::string();
  }
  // Keep the last max_lines lines (a trailing newline does not start another line).
  size_t end = out.size();
  if (end > 0 && out[end - 1] == '\n') {
    --end;
  }
  size_t cut = end;
  for (size_t lines = 0; lines < max_lines; ++lines) {
    size_t nl = cut == 0 ? std::string::npos : out.rfind('\n', cut - 1);
    if (nl == std::string::npos) {
      return out;
    }
    cut = nl;
  }
  return out.substr(cut + 1);
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  // pid + a per-process counter: concurrent writers (threads of one daemon) never share a temp.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) {
    return errno_error(ErrorCode::kIoFailed, "create " + tmp);
  }
  auto fail = [&](const char* what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_sys_error(ErrorCode::kIoFailed, err, std::string(what) + " " + tmp);
  };
  if (::fchmod(fd.get(), mode) != 0) {
    return fail("chmod");
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return fail("fsync");
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("rename");
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  UniqueFd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) {
    ::fsync(dfd.get());
  }
  return ok();
}

Status ensure_dir(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return make_sys_error(ErrorCode::kIoFailed, ec.value(), "mkdir " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return errno_error(ErrorCode::kIoFailed, "chmod " + path);
  }
  return ok();
}

Status remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return make_sys_error(ErrorCode::kIoFailed, ec.value(), "remove " + path);
  }
  return ok();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace lobster::fs
