#include "ingress/relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/unique_fd.h"
#include "guest/ws/http.h"

namespace lobster::ingress {
namespace {

constexpr size_t kChunk = 64 * 1024;

bool again(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One direction src -> dst. Bytes sit either in the kernel pipe (splice) or in buf (copy
// fallback); `pending` counts them.
struct Direction {
  int src = -1;
  int dst = -1;
  UniqueFd pipe_r, pipe_w;
  bool splice_ok = true;
  std::array<char, kChunk> buf{};
  size_t buf_off = 0;
  size_t pending = 0;
  bool src_eof = false;
  bool shut = false;
  bool failed = false;
  const std::function<void(int64_t)>* count = nullptr;

  bool can_read() const { return !src_eof && !failed && pending == 0; }
  bool finished() const { return shut || failed; }

  // One non-blocking step. Returns true when something moved.
  bool step() {
    bool moved = false;
    if (can_read()) {
      ssize_t n = -1;
      if (splice_ok) {
        n = ::splice(src, nullptr, pipe_w.get(), nullptr, kChunk,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && (errno == EINVAL || errno == ENOSYS))
          splice_ok = false;  // this socket type cannot splice: copy from now on
      }
      if (!splice_ok) {
        n = ::recv(src, buf.data(), buf.size(), 0);
        buf_off = 0;
      }
      if (n > 0) {
        pending = static_cast<size_t>(n);
        (*count)(n);
        moved = true;
      } else if (n == 0) {
        src_eof = true;
        moved = true;
      } else if (!again(errno)) {
        failed = true;
      }
    }
    if (pending > 0 && !failed) {
      ssize_t m = splice_ok ? ::splice(pipe_r.get(), nullptr, dst, nullptr, pending,
                                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                            : ::send(dst, buf.data() + buf_off, pending, MSG_NOSIGNAL);
      if (m > 0) {
        pending -= static_cast<size_t>(m);
        buf_off += static_cast<size_t>(m);
        moved = true;
      } else if (m < 0 && !again(errno)) {
        failed = true;
      }
    }
    if (src_eof && pending == 0 && !shut && !failed) {
      ::shutdown(dst, SHUT_WR);  // pass the half-close on (HTTP/1.0 bodies, WS close)
      shut = true;
      moved = true;
    }
    return moved;
  }
};

}  // namespace

Result<int> connect_tcp(const std::string& ip, uint16_t port, int64_t timeout_ms) {
  auto fail = [&](std::string why) {
    return with_hint(
        Error{ErrorCode::kGatewayUnavailable,
              "connect to the tenant's gateway " + ip + ":" + std::to_string(port) + ": " + why},
        "`lobsterd molt <name>` checks and repairs the tenant");
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return fail("bad address");
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd)
    return fail(std::strerror(errno));
  // Kernel ABI: sockaddr_in is the sockaddr for AF_INET.
  int r = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (r < 0 && errno != EINPROGRESS)
    return fail(std::strerror(errno));
  if (r < 0) {
    pollfd p{fd.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout_ms));
    if (n <= 0)
      return fail("timed out");
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return fail(std::strerror(err));
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd.release();
}

void relay(int client, int upstream, std::string_view replay, const RelayHooks& hooks) {
  if (!replay.empty()) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    if (!guest::ws::write_all(upstream, replay, deadline))
      return;
    hooks.to_tenant(static_cast<int64_t>(replay.size()));
  }
  set_nonblocking(client);
  set_nonblocking(upstream);
  Direction dirs[2];
  dirs[0].src = client;
  dirs[0].dst = upstream;
  dirs[0].count = &hooks.to_tenant;
  dirs[1].src = upstream;
  dirs[1].dst = client;
  dirs[1].count = &hooks.to_client;
  for (Direction& d : dirs) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      d.pipe_r = UniqueFd(p[0]);
      d.pipe_w = UniqueFd(p[1]);
    } else {
      d.splice_ok = false;
    }
  }
  for (;;) {
    bool moved = dirs[0].step();
    moved = dirs[1].step() || moved;
    if (dirs[0].failed || dirs[1].failed)
      return;  // a reset side ends the whole connection; the caller closes both
    if (dirs[0].finished() && dirs[1].finished())
      return;
    if (moved)
      continue;
    pollfd p[2] = {{client, 0, 0}, {upstream, 0, 0}};
    for (int i = 0; i < 2; ++i) {
      if (dirs[i].can_read())
        p[i].events |= POLLIN;
      if (dirs[i].pending > 0)
        p[1 - i].events |= POLLOUT;
    }
    int n = ::poll(p, 2, -1);
    if (n < 0 && errno != EINTR)
      return;
    // An error or hang-up on a socket we are not waiting on would spin: give up then.
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLERR | POLLNVAL)) != 0 && (p[i].revents & POLLIN) == 0)
        return;
      if (p[i].events == 0 && (p[i].revents & POLLHUP) != 0)
        return;
    }
  }
}

}  // namespace lobster::ingress
