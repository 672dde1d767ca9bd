// PendingCall: the non-blocking I/O of one agent request, plus reply interpretation.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "agent/agent_client.h"

namespace lobster::agent {
namespace {

// A reply is one short JSON line (get-logs returns at most 4000 characters, escaped).
constexpr size_t kMaxReplyBytes = 4u << 20;

int64_t mono_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Result<PendingCall> PendingCall::start(const std::string& host, uint16_t port, std::string method,
                                       std::string request_line, int64_t timeout_ms) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return make_error(ErrorCode::kVsockConnectFailed, "agent {}: bad guest address '{}'", method,
                      host);
  }
  PendingCall c;
  c.method_ = std::move(method);
  c.out_ = std::move(request_line);
  c.deadline_ms_ = mono_ms() + timeout_ms;
  c.fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!c.fd_) {
    return errno_error(ErrorCode::kVsockConnectFailed, "agent " + c.method_ + ": socket");
  }
  // Kernel ABI: sockaddr_in is the AF_INET layout of sockaddr.
  int rc = ::connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc == 0) {
    c.phase_ = Phase::kSending;
  } else if (errno != EINPROGRESS) {
    c.finish_with(Error{
        ErrorCode::kVsockConnectFailed,
        fmt::format("agent {}: connect {}:{}: {}", c.method_, host, port, std::strerror(errno)),
        errno});
  }
  return c;
}

short PendingCall::poll_events() const {
  switch (phase_) {
    case Phase::kConnecting:
    case Phase::kSending:
      return POLLOUT;
    case Phase::kReceiving:
      return POLLIN;
    case Phase::kDone:
      return 0;
  }
  return 0;
}

void PendingCall::finish_with(Error e) {
  result_.emplace(std::unexpected<Error>(std::move(e)));
  phase_ = Phase::kDone;
  fd_.reset();
}

void PendingCall::finish_reply() {
  result_.emplace(parse_reply(method_, in_));
  phase_ = Phase::kDone;
  fd_.reset();
}

void PendingCall::advance(short revents) {
  if (phase_ == Phase::kConnecting && revents != 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      finish_with(Error{ErrorCode::kVsockConnectFailed,
                        fmt::format("agent {}: connect: {}", method_, std::strerror(err)), err});
      return;
    }
    phase_ = Phase::kSending;
  }
  if (phase_ == Phase::kSending && revents != 0) {
    while (out_off_ < out_.size()) {
      ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
      if (n > 0) {
        out_off_ += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        finish_with(Error{ErrorCode::kProtocolError,
                          fmt::format("agent {}: send: {}", method_, std::strerror(errno)), errno});
        return;
      }
    }
    if (out_off_ == out_.size()) {
      // The request line (with the token) is no longer needed in memory.
      std::fill(out_.begin(), out_.end(), '\0');
      phase_ = Phase::kReceiving;
      return;  // wait for POLLIN
    }
  }
  if (phase_ == Phase::kReceiving && revents != 0) {
    std::array<char, 16384> buf{};
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n > 0) {
        in_.append(buf.data(), static_cast<size_t>(n));
        if (in_.size() > kMaxReplyBytes) {
          finish_with(
              Error{ErrorCode::kProtocolError,
                    fmt::format("agent {}: reply larger than {} bytes", method_, kMaxReplyBytes)});
          return;
        }
        continue;
      }
      if (n == 0) {
        finish_reply();
        return;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == ECONNRESET && in_.find('\n') != std::string::npos) {
        finish_reply();  // the full line arrived before the reset
        return;
      }
      finish_with(Error{ErrorCode::kProtocolError,
                        fmt::format("agent {}: recv: {}", method_, std::strerror(errno)), errno});
      return;
    }
  }
  if (phase_ != Phase::kDone && mono_ms() >= deadline_ms_) {
    if (phase_ == Phase::kConnecting) {
      finish_with(Error{ErrorCode::kVsockConnectFailed,
                        fmt::format("agent {}: connect timed out", method_), ETIMEDOUT});
    } else {
      finish_with(Error{ErrorCode::kExecTimeout,
                        fmt::format("agent {}: no reply before the deadline", method_), ETIMEDOUT});
    }
  }
}

Result<nlohmann::json> PendingCall::take_result() {
  if (!result_) {
    return make_error(ErrorCode::kInternal, "agent {}: result taken before completion", method_);
  }
  Result<nlohmann::json> r = std::move(*result_);
  result_.reset();
  return r;
}

void run_all(std::vector<PendingCall>& calls) {
  std::vector<pollfd> fds;
  std::vector<size_t> index;
  for (;;) {
    fds.clear();
    index.clear();
    int64_t now = mono_ms();
    int64_t wait = -1;
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].done()) {
        continue;
      }
      fds.push_back(pollfd{calls[i].fd(), calls[i].poll_events(), 0});
      index.push_back(i);
      int64_t left = calls[i].deadline_ms() - now;
      left = left < 0 ? 0 : left;
      wait = wait < 0 || left < wait ? left : wait;
    }
    if (fds.empty()) {
      return;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait + 1));
    if (n < 0 && errno != EINTR) {
      for (size_t i : index) {
        calls[i].advance(POLLERR);
      }
      continue;
    }
    for (size_t k = 0; k < fds.size(); ++k) {
      calls[index[k]].advance(fds[k].revents);
    }
  }
}

Result<nlohmann::json> parse_reply(const std::string& method, std::string_view raw) {
  size_t nl = raw.find('\n');
  if (nl == std::string_view::npos || nl + 1 != raw.size()) {
    auto e = Error{
        ErrorCode::kProtocolError,
        fmt::format("agent {}: reply is not exactly one line ({} bytes)", method, raw.size())};
    e.detail = std::string(raw.substr(0, 200));
    return make_error(std::move(e));
  }
  nlohmann::json j = nlohmann::json::parse(raw.substr(0, nl), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    auto e = Error{ErrorCode::kProtocolError,
                   fmt::format("agent {}: reply is not a JSON object", method)};
    e.detail = std::string(raw.substr(0, 200));
    return make_error(std::move(e));
  }
  if (auto err = j.find("error"); err != j.end()) {
    std::string msg = err->is_string() ? err->get<std::string>() : err->dump();
    if (msg == "unauthorized") {
      return make_error(ErrorCode::kAgentUnauthorized,
                        "agent {}: token rejected by the guest agent", method);
    }
    return make_error(ErrorCode::kExecFailed, "agent {}: {}", method, msg);
  }
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean() || !ok->get<bool>()) {
    return make_error(ErrorCode::kProtocolError, "agent {}: reply has neither ok:true nor error",
                      method);
  }
  return j;
}

}  // namespace lobster::agent
