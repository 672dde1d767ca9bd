#include "ingress/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "core/log.h"
#include "guest/ws/http.h"
#include "ingress/counters.h"
#include "ingress/head.h"
#include "ingress/relay.h"
#include "ingress/response.h"

namespace lobster::ingress {
namespace {

guest::ws::Deadline in_ms(int64_t ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

Result<UniqueFd> listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(ErrorCode::kIoFailed, "socket path too long: {}", path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "socket " + path);
  ::unlink(path.c_str());  // a stale socket of a dead ingress blocks bind
  mode_t old = ::umask(077);
  // Kernel ABI: sockaddr_un is the sockaddr for AF_UNIX.
  int r = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (r != 0)
    return errno_error(ErrorCode::kIoFailed, "bind " + path);
  ::chmod(path.c_str(), 0600);
  if (::listen(fd.get(), 1024) != 0)
    return errno_error(ErrorCode::kIoFailed, "listen " + path);
  return fd;
}

Result<UniqueFd> listen_loopback(int64_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Kernel ABI: sockaddr_in is the sockaddr for AF_INET.
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0)
    return errno_error(ErrorCode::kIoFailed, fmt::format("bind 127.0.0.1:{}", port));
  if (::listen(fd.get(), 64) != 0)
    return errno_error(ErrorCode::kIoFailed, "listen");
  return fd;
}

}  // namespace

nlohmann::json settings_json(const IngressOptions& o) {
  return {{"domain", o.domain},
          {"wakeTimeoutMs", o.wake_timeout_ms},
          {"maxWaitingPerTenant", o.max_waiting_per_tenant},
          {"askPort", o.ask_port}};
}

IngressServer::IngressServer(IngressOptions options, TenantDirectory& directory, Waker& waker,
                             const Clock& clock)
    : options_(std::move(options)), directory_(directory), waker_(waker), clock_(clock) {}

Result<std::unique_ptr<IngressServer>> IngressServer::create(IngressOptions options,
                                                             TenantDirectory& directory,
                                                             Waker& waker, const Clock& clock) {
  std::unique_ptr<IngressServer> s(new IngressServer(std::move(options), directory, waker, clock));
  s->listen_fd_ = LOB_TRY(listen_unix(s->options_.listen_socket));
  s->control_fd_ = LOB_TRY(listen_unix(s->options_.control_socket));
  if (s->options_.ask_port > 0)
    s->ask_fd_ = LOB_TRY(listen_loopback(s->options_.ask_port));
  s->stop_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->stop_fd_)
    return errno_error(ErrorCode::kIoFailed, "eventfd");
  s->started_ms_ = clock.now_ms();
  return s;
}

IngressServer::~IngressServer() { stop(); }

void IngressServer::stop() {
  stopping_ = true;
  uint64_t one = 1;
  (void)::write(stop_fd_.get(), &one, sizeof(one));
  std::unique_lock lock(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  cv_.notify_all();
  cv_.wait(lock, [&] { return threads_ == 0; });
}

void IngressServer::track(int fd, bool add) {
  std::lock_guard lock(mu_);
  if (add)
    open_fds_.insert(fd);
  else
    open_fds_.erase(fd);
}

void IngressServer::serve() {
  log::info("ingress.serving", {{"socket", options_.listen_socket}, {"domain", options_.domain}});
  while (!stopping_) {
    pollfd p[4] = {{stop_fd_.get(), POLLIN, 0},
                   {listen_fd_.get(), POLLIN, 0},
                   {control_fd_.get(), POLLIN, 0},
                   {ask_fd_.get(), POLLIN, 0}};
    if (::poll(p, ask_fd_ ? 4 : 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      log::error("ingress.poll_failed", {{"errno", errno}});
      break;
    }
    if (stopping_)
      break;
    for (int i = 1; i < (ask_fd_ ? 4 : 3); ++i) {
      if ((p[i].revents & POLLIN) == 0)
        continue;
      UniqueFd fd(::accept4(p[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!fd)
        continue;  // EMFILE and friends: the peer sees a reset, the ingress goes on
      std::lock_guard lock(mu_);
      if (i == 1 && threads_ >= options_.max_connections) {
        Error e{ErrorCode::kResourceExhausted, "the ingress is at its connection limit"};
        std::string answer = error_response(503, e, options_.retry_after_s);
        (void)::send(fd.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        continue;
      }
      ++threads_;
      const int raw_fd = fd.get();
      open_fds_.insert(raw_fd);
      try {
        std::thread([this, i, conn = std::move(fd)]() mutable {
          const int raw = conn.get();
          try {
            if (i == 1)
              handle_client(std::move(conn));
            else
              handle_control(std::move(conn), i == 3);
          } catch (const std::exception& e) {
            // Never take the other connections down with this one.
            log::error("ingress.connection_failed", {{"what", e.what()}});
          }
          std::lock_guard done(mu_);
          open_fds_.erase(raw);
          --threads_;
          cv_.notify_all();
        }).detach();
      } catch (const std::system_error&) {
        --threads_;  // no thread: `fd` was moved into the failed lambda and is closed
        open_fds_.erase(raw_fd);
        log::warn("ingress.thread_failed", {});
      }
    }
  }
}

IngressServer::Counters& IngressServer::open_counters(const std::string& tenant) {
  std::lock_guard lock(mu_);
  auto& c = counters_[tenant];
  if (!c)
    c = std::make_unique<Counters>();
  ++c->open_connections;  // under mu_: prune_counters() never frees counters in use
  ++c->connections_total;
  c->last_client_activity_ms = clock_.now_ms();
  return *c;
}

void IngressServer::prune_counters() {
  std::vector<std::string> idle;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, c] : counters_) {
      if (c->open_connections == 0)
        idle.push_back(name);
    }
  }
  for (const auto& name : idle) {
    auto t = directory_.lookup(name);
    if (t || t.error().code != ErrorCode::kTenantNotFound)
      continue;
    std::lock_guard lock(mu_);
    auto it = counters_.find(name);
    if (it != counters_.end() && it->second->open_connections == 0)
      counters_.erase(it);  // evicted: its counters must not outlive it
  }
}

ActivityReport IngressServer::activity() const {
  ActivityReport r;
  r.pid = ::getpid();
  r.started_ms = started_ms_;
  r.domain = options_.domain;
  std::lock_guard lock(mu_);
  for (const auto& [name, c] : counters_) r.tenants[name] = c->snapshot();
  return r;
}

void IngressServer::handle_control(UniqueFd fd, bool ask_only) {
  auto head = guest::ws::read_http_head(fd.get(), in_ms(2000), 4096);
  if (!head)
    return;
  auto req = guest::ws::parse_http_request(head->head);
  std::string answer;
  if (req && req->method == "GET" && req->path() == "/v1/ask") {
    // Caddy's on-demand TLS: a certificate only for <existing tenant>.<domain>.
    auto host = req->query_param("domain");
    Result<std::string> tenant = host ? tenant_for_host(*host, options_.domain)
                                      : make_error(ErrorCode::kValidationFailed, "no domain");
    Result<TenantTarget> target =
        tenant ? directory_.lookup(*tenant) : Result<TenantTarget>(make_error(tenant.error()));
    answer = target ? json_response({{"ok", true}}) : error_response(404, target.error(), 0);
  } else if (ask_only) {
    answer =
        error_response(404, Error{ErrorCode::kRouteNotFound, "only /v1/ask is served here"}, 0);
  } else if (req && req->method == "GET" && req->path() == "/v1/ping") {
    answer = json_response({{"ok", true},
                            {"pid", ::getpid()},
                            {"domain", options_.domain},
                            {"settings", settings_json(options_)}});
  } else if (req && req->method == "GET" && req->path() == "/v1/activity") {
    prune_counters();
    answer = json_response(to_json(activity()));
  } else {
    answer = error_response(404, Error{ErrorCode::kRouteNotFound, "no such control endpoint"}, 0);
  }
  (void)guest::ws::write_all(fd.get(), answer, in_ms(2000));
}

void IngressServer::handle_client(UniqueFd fd) {
  auto fail = [&](unsigned status, const Error& e, int64_t retry_after_s = 0) {
    (void)guest::ws::write_all(fd.get(), error_response(status, e, retry_after_s), in_ms(2000));
  };
  const int64_t started = clock_.monotonic_ms();
  auto head =
      guest::ws::read_http_head(fd.get(), in_ms(options_.head_timeout_ms), options_.max_head_bytes);
  if (!head) {
    if (head.error().code == ErrorCode::kExecTimeout)
      fail(408, Error{ErrorCode::kExecTimeout, "the request head did not arrive in time"});
    else
      fail(400, with_hint(Error{ErrorCode::kValidationFailed, head.error().message},
                          "send one HTTP/1.x request head within " +
                              std::to_string(options_.max_head_bytes) + " bytes")
                    .error());
    return;
  }
  auto route = route_head(head->head, options_.domain);
  if (!route) {
    fail(route.error().code == ErrorCode::kTenantNotFound ? 404 : 400, route.error());
    return;
  }
  auto target = directory_.lookup(route->tenant);
  if (!target) {
    fail(target.error().code == ErrorCode::kTenantNotFound ? 404 : 503, target.error(),
         target.error().code == ErrorCode::kTenantNotFound ? 0 : options_.retry_after_s);
    return;
  }
  Counters& counters = open_counters(route->tenant);
  OpenConnection open(counters);
  const int64_t deadline = started + options_.wake_timeout_ms;
  if (target->status != store::TenantStatus::kActive) {
    Status awake = await_active(route->tenant, counters, deadline);
    if (!awake) {
      unsigned status = awake.error().code == ErrorCode::kTenantNotFound ? 404 : 503;
      fail(status, awake.error(), status == 503 ? options_.retry_after_s : 0);
      return;
    }
    target = directory_.lookup(route->tenant);
    if (!target) {
      fail(503, target.error(), options_.retry_after_s);
      return;
    }
  }
  // Right after a resume the guest's listener may need a moment: retry until the deadline.
  Result<int> upstream =
      connect_tcp(target->address, options_.gateway_port, options_.connect_timeout_ms);
  while (!upstream && clock_.monotonic_ms() + 100 < deadline && !stopping_) {
    if (!sleep_ms(100))
      break;
    upstream = connect_tcp(target->address, options_.gateway_port, options_.connect_timeout_ms);
  }
  if (!upstream) {
    fail(502, upstream.error());
    return;
  }
  UniqueFd up(*upstream);
  track(up.get(), true);
  std::string replay = head->head + head->rest;
  relay(fd.get(), up.get(), replay,
        {.to_tenant = [&](int64_t n) { counters.client_bytes(n, clock_.now_ms()); },
         .to_client = [&](int64_t n) { counters.bytes_to_client += n; }});
  track(up.get(), false);
}

bool IngressServer::sleep_ms(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
  return !stopping_;
}

}  // namespace lobster::ingress
