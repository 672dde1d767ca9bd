// Internals of ApiServer shared by server.cc (lifecycle: bind, run, stop) and
// server_session.cc (one connection: read, authorize, dispatch on the pool, reply). Not an
// interface: only those two files include it.
#pragma once

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "api/server.h"

namespace lobster::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Local = asio::local::stream_protocol;

class Session;

struct ApiServer::Impl {
  Impl(const Router& r, ServerOptions o) : router(r), options(std::move(o)) {}

  void accept();
  void begin_stop(int signal);

  asio::io_context ioc{1};
  std::optional<asio::thread_pool> pool;  // runs handlers; created in create()
  Local::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  const Router& router;
  ServerOptions options;
  bool stopping = false;
  int stopped_by = 0;
  std::vector<std::weak_ptr<Session>> sessions;
};

}  // namespace lobster::api
