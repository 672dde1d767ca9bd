#include "vmm/firecracker/api_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "core/unique_fd.h"

namespace lobster::vmm::firecracker {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits until `fd` is ready for `events` or the deadline passes.
Status wait_fd(int fd, short events, int64_t deadline, const std::string& what) {
  for (;;) {
    const int64_t left = deadline - mono_ms();
    if (left <= 0) {
      return make_error(ErrorCode::kExecTimeout, "{}: no answer within the deadline", what);
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0)
      return ok();
    if (n < 0 && errno != EINTR)
      return errno_error(ErrorCode::kVmmFailed, what + ": poll");
  }
}

}  // namespace

std::string fault_message_of(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto it = j.find("fault_message");
    if (it != j.end() && it->is_string())
      return it->get<std::string>();
  }
  return body;
}

Result<HttpResponse> ApiClient::send(const ApiRequest& request) const {
  const std::string what = "Firecracker API " + request.method + " " + request.path;
  const int64_t deadline = mono_ms() + timeout_ms_;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInternal, "API socket path too long ({} bytes): {}",
                      socket_path_.size(), socket_path_);
  }
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd)
    return errno_error(ErrorCode::kVmmFailed, what + ": socket");
  // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX sockets.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    return errno_error(ErrorCode::kVmmFailed, what + ": connect " + socket_path_);
  }
  const std::string wire =
      format_request(request.method, request.path, request.body ? request.body->dump() : "");
  size_t off = 0;
  while (off < wire.size()) {
    LOB_TRY(wait_fd(fd.get(), POLLOUT, deadline, what));
    const ssize_t w = ::send(fd.get(), wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return errno_error(ErrorCode::kVmmFailed, what + ": send");
    }
    off += static_cast<size_t>(w);
  }
  std::string buffer;
  char chunk[16384];
  for (;;) {
    auto parsed = parse_response(buffer);
    if (!parsed) {
      Error e = std::move(parsed).error();
      e.message = what + ": " + e.message;
      return make_error(std::move(e));
    }
    if (*parsed)
      return std::move(**parsed);
    LOB_TRY(wait_fd(fd.get(), POLLIN, deadline, what));
    const ssize_t r = ::recv(fd.get(), chunk, sizeof(chunk), 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return errno_error(ErrorCode::kVmmFailed, what + ": recv");
    }
    if (r == 0) {
      return make_error(ErrorCode::kVmmFailed, "{}: connection closed before a full response",
                        what);
    }
    buffer.append(chunk, static_cast<size_t>(r));
  }
}

Result<nlohmann::json> ApiClient::call(const ApiRequest& request, ErrorCode fault_code) const {
  HttpResponse resp = LOB_TRY(send(request));
  if (resp.status < 200 || resp.status > 299) {
    Error e{fault_code, fmt::format("Firecracker API {} {} failed ({}): {}", request.method,
                                    request.path, resp.status, fault_message_of(resp.body))};
    e.detail = resp.body;
    return make_error(std::move(e));
  }
  if (resp.body.empty())
    return nlohmann::json();
  auto j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return make_error(ErrorCode::kProtocolError, "Firecracker API {} {}: reply is not JSON: {}",
                      request.method, request.path, resp.body.substr(0, 200));
  }
  return j;
}

}  // namespace lobster::vmm::firecracker
