// LoopbackServer: a test stand-in for a peer on 127.0.0.1, one request per connection. Each
// connection is read until `end_of_request` appears (or the peer stops sending), then `reply`
// decides the answer; std::nullopt closes the connection without one. Serves on its own
// thread until destroyed.
//
//   LoopbackServer s("\n", [](const std::string& req) { return std::string("PONG\n"); });
//   connect to 127.0.0.1:s.port() ...
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/unique_fd.h"

namespace lobster::testing {

class LoopbackServer {
 public:
  using Reply = std::function<std::optional<std::string>(const std::string& request)>;

  // port 0: any free port (see port()).
  LoopbackServer(std::string end_of_request, Reply reply, uint16_t port = 0)
      : end_(std::move(end_of_request)), reply_(std::move(reply)) {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Kernel ABI: sockaddr_in is a sockaddr for bind(2)/getsockname(2).
    listening_ = ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                 ::listen(fd_.get(), 64) == 0;
    socklen_t len = sizeof(a);
    (void)::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return port_; }
  bool listening() const { return listening_; }  // bind and listen succeeded

 private:
  void serve() {
    while (!stop_) {
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c)
        continue;
      std::string in;
      char buf[4096];
      while (in.find(end_) == std::string::npos) {
        ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0)
          break;
        in.append(buf, static_cast<size_t>(n));
      }
      if (std::optional<std::string> out = reply_(in))
        (void)::send(c.get(), out->data(), out->size(), MSG_NOSIGNAL);
    }
  }

  std::string end_;
  Reply reply_;
  UniqueFd fd_;
  uint16_t port_ = 0;
  bool listening_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lobster::testing
