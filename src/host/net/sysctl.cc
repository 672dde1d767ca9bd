#include "host/net/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "core/unique_fd.h"

namespace lobster::net {

Result<std::string> read_sysctl(const std::string& root, const std::string& key) {
  std::string path = root + "/" + key;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kNetworkFailed, "read sysctl " + key);
  }
  std::string out;
  std::array<char, 256> buf{};
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(ErrorCode::kNetworkFailed, "read sysctl " + key);
    }
    if (n == 0) {
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

Result<bool> ensure_sysctl(const std::string& root, const std::string& key,
                           const std::string& value) {
  std::string current = LOB_TRY(read_sysctl(root, key));
  if (current == value) {
    return false;
  }
  std::string path = root + "/" + key;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC));
  if (!fd) {
    return errno_error(ErrorCode::kNetworkFailed, "write sysctl " + key);
  }
  std::string data = value + "\n";
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n != static_cast<ssize_t>(data.size())) {
    return errno_error(ErrorCode::kNetworkFailed, "write sysctl " + key + "=" + value);
  }
  return true;
}

}  // namespace lobster::net
