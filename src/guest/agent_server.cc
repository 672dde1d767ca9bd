#include "guest/agent_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

namespace lobster::guest {

struct AgentServer::Conn {
  enum class Phase { kReading, kDispatched, kWriting, kDraining };
  UniqueFd fd;
  Port kind = Port::kAgent;
  Phase phase = Phase::kReading;
  RequestFramer framer;
  std::string out;
  size_t out_off = 0;
  EventLoop::TimerId timer = 0;
  uint64_t id = 0;

  explicit Conn(size_t max_bytes) : framer(max_bytes) {}
};

AgentServer::AgentServer(EventLoop& loop, Dispatcher& dispatcher, ServerOptions options)
    : loop_(loop),
      dispatcher_(dispatcher),
      options_(options),
      alive_(std::make_shared<bool>(true)) {}

AgentServer::~AgentServer() {
  *alive_ = false;
  while (!conns_.empty()) {
    close_conn(conns_.begin()->first);
  }
  for (auto& [fd, owned] : listeners_) {
    loop_.remove(fd);
  }
}

Result<uint16_t> AgentServer::listen(const std::string& ipv4, uint16_t port, Port kind) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) {
    return make_error(ErrorCode::kNetworkFailed, "agent listen: bad IPv4 address '{}'", ipv4);
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return errno_error(ErrorCode::kNetworkFailed, "agent socket");
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Kernel ABI: sockaddr_in is the AF_INET layout of sockaddr.
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kNetworkFailed,
                       "agent bind " + ipv4 + ":" + std::to_string(port));
  }
  if (::listen(fd.get(), 512) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "agent listen " + ipv4);
  }
  socklen_t len = sizeof(addr);
  // Kernel ABI: as above.
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errno_error(ErrorCode::kNetworkFailed, "agent getsockname");
  }
  int raw = fd.get();
  LOB_TRY(loop_.add(raw, EPOLLIN, [this, raw, kind](uint32_t) { on_accept(raw, kind); }));
  listeners_[raw] = std::move(fd);
  return ntohs(addr.sin_port);
}

void AgentServer::on_accept(int listen_fd, Port kind) {
  // Bounded batch so one busy listener cannot starve the rest of the loop.
  for (int i = 0; i < 64; ++i) {
    UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED): try on the next event
    }
    if (conns_.size() >= options_.max_connections) {
      continue;  // closed by UniqueFd
    }
    uint64_t id = next_id_++;
    auto conn = std::make_unique<Conn>(options_.max_request_bytes);
    conn->fd = std::move(fd);
    conn->kind = kind;
    conn->id = id;
    int raw = conn->fd.get();
    if (!loop_.add(raw, EPOLLIN | EPOLLRDHUP, [this, id](uint32_t ev) { on_conn_event(id, ev); })) {
      continue;
    }
    conn->timer = loop_.add_timer(options_.read_timeout_ms, [this, id] {
      auto it = conns_.find(id);
      if (it != conns_.end()) {
        it->second->timer = 0;
        close_conn(id);
      }
    });
    conns_[id] = std::move(conn);
  }
}

void AgentServer::on_conn_event(uint64_t id, uint32_t events) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    return;
  }
  Conn& c = *it->second;
  switch (c.phase) {
    case Conn::Phase::kReading:
      read_request(c);
      // read_request may have closed or dispatched; nothing else to do here.
      return;
    case Conn::Phase::kDispatched:
      return;
    case Conn::Phase::kWriting:
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
        close_conn(id);
        return;
      }
      flush(c);
      return;
    case Conn::Phase::kDraining:
      drain(c);
      return;
  }
}

void AgentServer::read_request(Conn& c) {
  std::array<char, 16384> buf{};
  uint64_t id = c.id;
  for (;;) {
    ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      if (c.framer.feed(std::string_view(buf.data(), static_cast<size_t>(n))) !=
          RequestFramer::State::kNeedMore) {
        break;
      }
      continue;
    }
    if (n == 0) {
      c.framer.feed_eof();
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;  // wait for more
    }
    close_conn(id);  // ECONNRESET and friends: nobody to answer
    return;
  }
  switch (c.framer.state()) {
    case RequestFramer::State::kNeedMore:
      return;
    case RequestFramer::State::kTooLarge:
      start_reply(id, error_line(kErrTooLarge));
      return;
    case RequestFramer::State::kIncomplete:
      start_reply(id, error_line(kErrIncomplete));
      return;
    case RequestFramer::State::kComplete:
      break;
  }
  c.phase = Conn::Phase::kDispatched;
  // Stop reading: bytes after the newline are ignored until the drain phase.
  [[maybe_unused]] auto st = loop_.modify(c.fd.get(), 0);
  loop_.cancel_timer(c.timer);
  c.timer = 0;
  std::weak_ptr<bool> alive = alive_;
  dispatcher_.dispatch(c.framer.line(), c.kind, [this, alive, id](nlohmann::json reply) {
    auto a = alive.lock();
    if (!a || !*a) {
      return;
    }
    start_reply(id, reply_line(reply));
  });
}

void AgentServer::start_reply(uint64_t id, std::string line) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    return;  // the connection timed out or failed while the method ran
  }
  Conn& c = *it->second;
  c.phase = Conn::Phase::kWriting;
  c.out = std::move(line);
  c.out_off = 0;
  loop_.cancel_timer(c.timer);
  c.timer = loop_.add_timer(options_.read_timeout_ms, [this, id] {
    auto i = conns_.find(id);
    if (i != conns_.end()) {
      i->second->timer = 0;
      close_conn(id);
    }
  });
  flush(c);
}

void AgentServer::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n =
        ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      [[maybe_unused]] auto st = loop_.modify(c.fd.get(), EPOLLOUT);
      return;
    }
    close_conn(c.id);
    return;
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  c.phase = Conn::Phase::kDraining;
  [[maybe_unused]] auto st = loop_.modify(c.fd.get(), EPOLLIN | EPOLLRDHUP);
  drain(c);
}

void AgentServer::drain(Conn& c) {
  std::array<char, 16384> buf{};
  for (;;) {
    ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    break;  // EOF or error: done
  }
  close_conn(c.id);
}

void AgentServer::close_conn(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    return;
  }
  if (it->second->timer != 0) {
    loop_.cancel_timer(it->second->timer);
  }
  loop_.remove(it->second->fd.get());
  conns_.erase(it);
}

}  // namespace lobster::guest
