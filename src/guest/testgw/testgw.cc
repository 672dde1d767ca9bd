#include "guest/testgw/testgw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "guest/ws/connection.h"
#include "guest/ws/digest.h"

namespace lobster::guest::testgw {
namespace {

ws::Deadline in_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

std::string http_response(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + std::string(body);
}

// The token offered by the client: Authorization: Bearer <t> wins over ?token=<t>.
std::optional<std::string> offered_token(const ws::HttpRequest& req) {
  if (auto auth = req.headers.get("Authorization")) {
    std::string_view v = *auth;
    if (v.size() > 7 && ws::iequals(v.substr(0, 7), "Bearer ")) {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
  }
  return req.query_param("token");
}

void echo_loop(ws::Connection& conn, int idle_timeout_ms) {
  for (;;) {
    auto m = conn.receive(in_ms(idle_timeout_ms));
    if (!m) {
      if (m.error().code == ErrorCode::kExecTimeout) {
        (void)conn.send_close(1001, "idle", in_ms(1000));
      }
      return;
    }
    if (m->opcode == ws::Opcode::kClose)
      return;
    const auto deadline = in_ms(10'000);
    Status sent = m->opcode == ws::Opcode::kBinary ? conn.send_binary(m->data, deadline)
                                                   : conn.send_text(m->data, deadline);
    if (!sent)
      return;
  }
}

// POST /echo: reads exactly Content-Length body bytes (bounded) and answers
// {"sha256":"<hex>","bytes":N}, so tests can prove a body arrived intact.
void echo_body(int fd, const ws::HttpRequest& req, std::string_view already,
               const Options& options) {
  auto reply = [&](int status, std::string_view reason, const std::string& body) {
    (void)ws::write_all(fd, http_response(status, reason, body), in_ms(5000));
  };
  auto length_text = req.headers.get("Content-Length");
  size_t length = 0;
  if (!length_text || length_text->empty() || length_text->size() > 12 ||
      length_text->find_first_not_of("0123456789") != std::string_view::npos) {
    reply(411, "Length Required", R"({"error":"Content-Length required"})");
    return;
  }
  length = std::stoull(std::string(*length_text));
  if (length > options.max_echo_body) {
    reply(413, "Payload Too Large", R"({"error":"body too large"})");
    return;
  }
  ws::Sha256 hash;
  size_t got = std::min(already.size(), length);
  hash.update(already.substr(0, got));
  std::array<char, 16384> buf{};
  const auto deadline = in_ms(options.header_timeout_ms * 6);
  while (got < length) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ws::remaining_ms(deadline)) <= 0)
      return;  // slow or stuck client: close
    ssize_t n = ::recv(fd, buf.data(), std::min(buf.size(), length - got), 0);
    if (n <= 0)
      return;
    hash.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    got += static_cast<size_t>(n);
  }
  reply(200, "OK",
        R"({"sha256":")" + ws::to_hex(hash.finish()) + R"(","bytes":)" + std::to_string(got) + "}");
}

}  // namespace

bool token_matches(std::string_view expected, std::string_view given) {
  if (expected.empty())
    return false;
  // Work depends only on expected.size(); lengths are compared without branching.
  size_t diff = expected.size() ^ given.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = given.empty() ? '\0' : given[i % given.size()];
    diff |= static_cast<size_t>(static_cast<unsigned char>(expected[i] ^ g));
  }
  return diff == 0;
}

Result<std::unique_ptr<TestGateway>> TestGateway::create(Options options) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (::inet_pton(AF_INET, options.bind_address.c_str(), &addr.sin_addr) != 1) {
    return make_error(ErrorCode::kValidationFailed, "bad bind address {}", options.bind_address);
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "socket");
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const std::string where = options.bind_address + ":" + std::to_string(options.port);
  // Kernel ABI: sockaddr_in is the IPv4 member of the sockaddr union.
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kIoFailed, "bind " + where);
  }
  if (::listen(fd.get(), 128) != 0)
    return errno_error(ErrorCode::kIoFailed, "listen " + where);
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errno_error(ErrorCode::kIoFailed, "getsockname");
  }
  UniqueFd stop_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd)
    return errno_error(ErrorCode::kIoFailed, "eventfd");
  return std::unique_ptr<TestGateway>(
      new TestGateway(std::move(options), std::move(fd), std::move(stop_fd), ntohs(addr.sin_port)));
}

TestGateway::TestGateway(Options options, UniqueFd listen_fd, UniqueFd stop_fd, uint16_t port)
    : options_(std::move(options)),
      listen_fd_(std::move(listen_fd)),
      stop_fd_(std::move(stop_fd)),
      port_(port) {}

TestGateway::~TestGateway() {
  stop();
  shutdown_all();
  std::map<int, std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [id, t] : workers) {
    if (t.joinable())
      t.join();
  }
}

void TestGateway::stop() {
  const uint64_t one = 1;
  (void)::write(stop_fd_.get(), &one, sizeof(one));
}

void TestGateway::reap_finished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu_);
    for (int id : finished_) {
      auto it = workers_.find(id);
      if (it != workers_.end()) {
        done.push_back(std::move(it->second));
        workers_.erase(it);
      }
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();
}

void TestGateway::shutdown_all() {
  std::lock_guard lock(mu_);
  for (const auto& [id, fd] : worker_fds_) ::shutdown(fd, SHUT_RDWR);
}

void TestGateway::serve() {
  for (;;) {
    reap_finished();
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR)
      break;
    if (fds[1].revents != 0)
      break;
    if (n <= 0 || (fds[0].revents & POLLIN) == 0)
      continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!client)
      continue;
    if (active_.load() >= options_.max_connections) {
      (void)ws::write_all(
          client.get(),
          http_response(503, "Service Unavailable", R"({"error":"too many connections"})"),
          in_ms(1000));
      continue;
    }
    ++active_;
    std::lock_guard lock(mu_);
    const int id = next_id_++;
    worker_fds_[id] = client.get();
    workers_[id] =
        std::thread([this, id, fd = std::move(client)]() mutable { handle(id, std::move(fd)); });
  }
  shutdown_all();
  std::map<int, std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
    finished_.clear();
  }
  for (auto& [id, t] : workers) t.join();
}

void TestGateway::handle(int id, UniqueFd fd) {
  const int raw_fd = fd.get();
  [&] {
    auto head = ws::read_http_head(raw_fd, in_ms(options_.header_timeout_ms), 16 * 1024);
    if (!head)
      return;
    auto req = ws::parse_http_request(head->head);
    if (!req) {
      (void)ws::write_all(raw_fd, http_response(400, "Bad Request", R"({"error":"bad request"})"),
                          in_ms(1000));
      return;
    }
    if (req->method == "POST" && req->path() == "/echo") {
      echo_body(raw_fd, *req, head->rest, options_);
      return;
    }
    if (req->path() == "/health") {
      (void)ws::write_all(raw_fd, http_response(200, "OK", R"({"ok":true})"), in_ms(5000));
      return;
    }
    if (req->path() != "/ws") {
      (void)ws::write_all(raw_fd, http_response(404, "Not Found", R"({"error":"not found"})"),
                          in_ms(1000));
      return;
    }
    auto token = offered_token(*req);
    if (!token || !token_matches(options_.token, *token)) {
      (void)ws::write_all(raw_fd, http_response(401, "Unauthorized", R"({"error":"unauthorized"})"),
                          in_ms(1000));
      return;
    }
    auto upgrade = ws::server_handshake_response(*req);
    if (!upgrade) {
      (void)ws::write_all(
          raw_fd, http_response(400, "Bad Request", R"({"error":"websocket upgrade required"})"),
          in_ms(1000));
      return;
    }
    if (!ws::write_all(raw_fd, *upgrade, in_ms(5000)))
      return;
    ws::Connection conn(std::move(fd), ws::Role::kServer, options_.max_message, head->rest);
    echo_loop(conn, options_.idle_timeout_ms);
    // Unregister before conn closes the socket so shutdown_all never sees a reused fd number.
    std::lock_guard lock(mu_);
    worker_fds_.erase(id);
  }();
  {
    std::lock_guard lock(mu_);
    worker_fds_.erase(id);
    finished_.push_back(id);
  }
  --active_;
}

}  // namespace lobster::guest::testgw
