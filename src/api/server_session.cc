#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "api/http_status.h"
#include "api/server_impl.h"
#include "core/log.h"

namespace lobster::api {

// One connection. Lives on the I/O thread; its handler work is posted to the pool.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Local::socket socket, ApiServer::Impl& server)
      : socket_(std::move(socket)), timer_(server.ioc), server_(server) {}

  void start() {
    ucred cred{};
    socklen_t len = sizeof(cred);
    // Kernel ABI: SO_PEERCRED fills a struct ucred for AF_UNIX stream sockets.
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close();
      return;
    }
    peer_ = Peer{cred.pid, cred.uid, cred.gid};
    read();
  }

  // Called on shutdown: idle connections close now, busy ones after their reply (or grace).
  void on_server_stop() {
    if (!busy_) {
      close();
      return;
    }
    arm_timer(server_.options.shutdown_grace_ms);
  }

  void close() {
    beast::error_code ignored;
    timer_.cancel();
    socket_.shutdown(Local::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void arm_timer(int64_t ms) {
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec)
        return;
      if (auto self = weak.lock())
        self->close();
    });
  }

  void read() {
    busy_ = false;
    parser_.emplace();
    parser_->body_limit(server_.options.body_limit);
    parser_->header_limit(16 * 1024);
    arm_timer(server_.options.idle_timeout_ms);
    bhttp::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    timer_.cancel();
    if (ec == bhttp::error::body_limit) {
      Error e{ErrorCode::kValidationFailed,
              fmt::format("request body larger than {} bytes", server_.options.body_limit)};
      reply(error_response(e), /*keep_alive=*/false);
      return;
    }
    if (ec) {
      close();  // peer closed, idle timeout, or a malformed request: nothing useful to answer
      return;
    }
    busy_ = true;
    // Handlers run on the worker pool so a slow one (a tenant operation) never stalls other
    // connections; the reply is written back on the I/O thread, which owns the socket.
    auto req = std::make_shared<bhttp::request<bhttp::string_body>>(parser_->release());
    asio::post(*server_.pool, [self = shared_from_this(), req] {
      int64_t start = now_ms();
      Request request;
      request.method = std::string(req->method_string());
      split_target(std::string_view(req->target().data(), req->target().size()), request.path,
                   request.query);
      request.peer = self->peer_;
      Response response = self->handle(*req, request);
      log::info("api.request", {{"method", request.method},
                                {"path", request.path},
                                {"status", response.status},
                                {"uid", self->peer_.uid},
                                {"ms", now_ms() - start}});
      bool keep_alive = req->keep_alive();
      asio::post(self->server_.ioc, [self, response = std::move(response), keep_alive] {
        self->reply(response, keep_alive && !self->server_.stopping);
      });
    });
  }

  Response handle(const bhttp::request<bhttp::string_body>& req, Request& request) {
    Status auth =
        authorize_peer(peer_, lookup_group(server_.options.group), server_.options.proc_root);
    if (!auth)
      return error_response(auth.error());
    if (!req.body().empty()) {
      request.body = nlohmann::json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
      if (request.body.is_discarded()) {
        return error_response(Error{ErrorCode::kValidationFailed, "request body is not JSON"});
      }
    }
    return server_.router.dispatch(request);
  }

  void reply(const Response& response, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(response.status);
    res_.set(bhttp::field::content_type, "application/json");
    res_.set(bhttp::field::server, "lobsterd");
    res_.keep_alive(keep_alive);
    res_.body() = response.body.dump() + "\n";
    res_.prepare_payload();
    busy_ = true;
    bhttp::async_write(socket_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->close();
      } else if (!self->res_.keep_alive() || self->server_.stopping) {
        self->graceful_close();
      } else {
        self->read();
      }
    });
  }

  // Closing a Unix socket with unread input resets the connection, and the peer may lose our
  // reply (e.g. after rejecting an oversized body): send EOF, drain the rest, then close.
  void graceful_close() {
    beast::error_code ignored;
    socket_.shutdown(Local::socket::shutdown_send, ignored);
    arm_timer(std::min<int64_t>(1'000, server_.options.shutdown_grace_ms));
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->close();
                              } else {
                                self->drain();
                              }
                            });
  }

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  Local::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  asio::steady_timer timer_;
  ApiServer::Impl& server_;
  Peer peer_;
  bool busy_ = false;
  std::array<char, 4096> drain_buffer_{};
};

void ApiServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, Local::socket socket) {
    if (stopping)
      return;
    if (!ec) {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
      sessions.push_back(session);
      session->start();
    } else {
      log::warn("api.accept_failed", {{"error", ec.message()}});
    }
    accept();
  });
}

void ApiServer::Impl::begin_stop(int signal) {
  if (stopping)
    return;
  stopping = true;
  stopped_by = signal;
  log::info("api.stopping", {{"signal", signal}});
  beast::error_code ignored;
  acceptor.close(ignored);
  ::unlink(options.socket_path.c_str());
  signals.cancel(ignored);
  for (auto& weak : sessions) {
    if (auto s = weak.lock())
      s->on_server_stop();
  }
}

}  // namespace lobster::api
