// Test helpers for talking to Unix-socket servers (the ingress, its control socket).
//
//   UniqueFd fd = connect_unix(dir + "/in.sock");     // invalid fd if connect failed
//   std::string answer = read_to_eof(fd.get(), 10'000);
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cstring>
#include <string>

#include "core/unique_fd.h"

namespace lobster::testing {

inline UniqueFd connect_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (!fd || path.size() >= sizeof(a.sun_path))
    return UniqueFd();
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  // Kernel ABI: sockaddr_un is the sockaddr for AF_UNIX.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    return UniqueFd();
  return fd;
}

// Everything the peer sends until it closes, or until nothing arrived for `idle_timeout_ms`.
inline std::string read_to_eof(int fd, int idle_timeout_ms) {
  std::string out;
  std::array<char, 65536> buf{};
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, idle_timeout_ms) <= 0)
      break;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0)
      break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

}  // namespace lobster::testing
