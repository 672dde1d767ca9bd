#include "guest/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace lobster::guest {

bool needs_rotation(size_t current, size_t incoming, size_t max_bytes) {
  return current > 0 && current + incoming > max_bytes;
}

RotatingLog::RotatingLog(std::string path, size_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes == 0 ? 1 : max_bytes) {
  open();
}

void RotatingLog::open() {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  size_ = 0;
  struct stat st {};
  if (fd_ && ::fstat(fd_.get(), &st) == 0) {
    size_ = static_cast<size_t>(st.st_size);
  }
}

void RotatingLog::rotate() {
  fd_.reset();
  std::string old = path_ + ".1";
  ::rename(path_.c_str(), old.c_str());
  open();
  if (size_ > 0) {
    // rename failed (e.g. read-only fs): truncate instead so the cap still holds.
    if (fd_ && ::ftruncate(fd_.get(), 0) == 0) {
      size_ = 0;
    }
  }
}

void RotatingLog::append(std::string_view data) {
  if (data.size() > max_bytes_) {
    data = data.substr(data.size() - max_bytes_);
  }
  if (needs_rotation(size_, data.size(), max_bytes_)) {
    rotate();
  }
  if (!fd_) {
    open();
    if (!fd_) {
      return;
    }
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    size_ += static_cast<size_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

namespace {

// The last `n` bytes of a file ("" if unreadable).
std::string file_tail(const std::string& path, size_t n) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return {};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return {};
  }
  auto size = static_cast<size_t>(st.st_size);
  size_t want = size < n ? size : n;
  std::string out(want, '\0');
  size_t got = 0;
  auto off = static_cast<off_t>(size - want);
  while (got < want) {
    ssize_t r = ::pread(fd.get(), out.data() + got, want - got, off + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      break;
    }
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

}  // namespace

std::string read_log_tail(const std::string& path, size_t max_chars) {
  std::string cur = file_tail(path, max_chars);
  if (cur.size() >= max_chars) {
    return cur;
  }
  std::string old = file_tail(path + ".1", max_chars - cur.size());
  return old + cur;
}

}  // namespace lobster::guest
