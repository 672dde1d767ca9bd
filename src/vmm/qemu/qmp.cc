#include "vmm/qemu/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>

namespace lobster::vmm::qemu {
namespace {

constexpr size_t kMaxLine = 16 << 20;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status QmpParser::feed(std::string_view bytes) {
  buffer_.append(bytes);
  size_t start = 0;
  for (;;) {
    size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos)
      break;
    std::string_view line(buffer_.data() + start, nl - start);
    start = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty())
      continue;
    auto msg = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (msg.is_discarded() || !msg.is_object()) {
      buffer_.erase(0, start);
      return make_error(ErrorCode::kProtocolError, "QMP sent a malformed message: {}",
                        std::string(line.substr(0, 200)));
    }
    ready_.push_back(std::move(msg));
  }
  buffer_.erase(0, start);
  if (buffer_.size() > kMaxLine) {
    buffer_.clear();
    return make_error(ErrorCode::kProtocolError, "QMP message longer than 16 MiB");
  }
  return ok();
}

std::optional<nlohmann::json> QmpParser::next() {
  if (ready_.empty())
    return std::nullopt;
  auto msg = std::move(ready_.front());
  ready_.pop_front();
  return msg;
}

Result<QmpClient> QmpClient::connect(const std::string& path, int64_t timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kValidationFailed, "QMP socket path too long: {}", path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return errno_error(ErrorCode::kVmmFailed, "socket for QMP");
  // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX sockets.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kVmmFailed, "connect QMP " + path);
  }
  return over(std::move(fd), timeout_ms);
}

Result<QmpClient> QmpClient::over(UniqueFd fd, int64_t timeout_ms) {
  QmpClient c(std::move(fd));
  int64_t deadline = now_ms() + timeout_ms;
  auto greeting = LOB_TRY(c.read_message(deadline));
  if (!greeting.contains("QMP")) {
    return make_error(ErrorCode::kProtocolError, "QMP greeting expected, got {}",
                      greeting.dump().substr(0, 200));
  }
  LOB_TRY(c.execute("qmp_capabilities", nullptr, std::max<int64_t>(deadline - now_ms(), 1)));
  return c;
}

Result<nlohmann::json> QmpClient::read_message(int64_t deadline_ms) {
  for (;;) {
    if (auto msg = parser_.next())
      return std::move(*msg);
    int64_t left = deadline_ms - now_ms();
    if (left <= 0)
      return make_error(ErrorCode::kExecTimeout, "QMP: no message in time");
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kVmmFailed, "poll QMP socket");
    }
    if (r == 0)
      continue;
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return errno_error(ErrorCode::kVmmFailed, "read QMP socket");
    }
    if (n == 0)
      return make_error(ErrorCode::kVmmFailed, "QMP connection closed by QEMU");
    LOB_TRY(parser_.feed(std::string_view(buf, static_cast<size_t>(n))));
  }
}

Result<nlohmann::json> QmpClient::execute(const std::string& command,
                                          const nlohmann::json& arguments, int64_t timeout_ms,
                                          int pass_fd) {
  int64_t id = next_id_++;
  nlohmann::json req = {{"execute", command}, {"id", id}};
  if (!arguments.is_null())
    req["arguments"] = arguments;
  std::string line = req.dump() + "\n";
  iovec iov{line.data(), line.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
  }
  // The request is small; the first sendmsg carries the fd, a rare short write is completed
  // without it.
  ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
  if (n < 0)
    return errno_error(ErrorCode::kVmmFailed, "send QMP " + command);
  size_t sent = static_cast<size_t>(n);
  while (sent < line.size()) {
    ssize_t m = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (m < 0)
      return errno_error(ErrorCode::kVmmFailed, "send QMP " + command);
    sent += static_cast<size_t>(m);
  }
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    auto reply = read_message(deadline);
    if (!reply) {
      Error e = reply.error();
      e.message = "QMP " + command + ": " + e.message;
      return std::unexpected(e);
    }
    if (reply->contains("event")) {
      events_.push_back(std::move(*reply));
      continue;
    }
    if (!reply->contains("id") || (*reply)["id"] != id)
      continue;  // a stale reply
    if (reply->contains("error")) {
      const auto& err = (*reply)["error"];
      return make_error(ErrorCode::kVmmFailed, "QMP {} failed: {}: {}", command,
                        err.value("class", "?"), err.value("desc", "?"));
    }
    return reply->value("return", nlohmann::json::object());
  }
}

Result<nlohmann::json> QmpClient::wait_event(const std::vector<std::string>& names,
                                             int64_t timeout_ms, const EventFilter& filter) {
  auto matches = [&](const nlohmann::json& ev) {
    if (!ev.contains("event") || !ev["event"].is_string())
      return false;
    std::string name = ev["event"];
    bool known = std::find(names.begin(), names.end(), name) != names.end();
    return known && (!filter || filter(ev));
  };
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (matches(*it)) {
      auto ev = std::move(*it);
      events_.erase(it);
      return ev;
    }
  }
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    auto msg = read_message(deadline);
    if (!msg) {
      Error e = msg.error();
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : "|") + n;
      e.message = "QMP wait for " + list + ": " + e.message;
      return std::unexpected(e);
    }
    if (!msg->contains("event"))
      continue;  // a late reply to an abandoned command
    if (matches(*msg))
      return std::move(*msg);
    events_.push_back(std::move(*msg));
  }
}

std::vector<nlohmann::json> QmpClient::take_events() {
  std::vector<nlohmann::json> out(std::make_move_iterator(events_.begin()),
                                  std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

}  // namespace lobster::vmm::qemu
