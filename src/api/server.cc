#include "api/server.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "api/server_impl.h"

namespace lobster::api {

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() {
  if (!impl_->stopping)
    ::unlink(impl_->options.socket_path.c_str());
}

Result<std::unique_ptr<ApiServer>> ApiServer::create(const Router& router, ServerOptions options) {
  auto impl = std::make_unique<Impl>(router, std::move(options));
  impl->pool.emplace(std::max<size_t>(1, impl->options.worker_threads));
  const std::string& path = impl->options.socket_path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    Error e{ErrorCode::kValidationFailed,
            fmt::format("API socket path has {} bytes, Unix sockets allow at most {}: {}",
                        path.size(), sizeof(sockaddr_un::sun_path) - 1, path)};
    e.hint = "use a shorter --root";
    return make_error(std::move(e));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_error(ErrorCode::kIoFailed, "remove stale socket " + path);
  }
  beast::error_code ec;
  impl->acceptor.open(Local(), ec);
  if (!ec)
    impl->acceptor.bind(Local::endpoint(path), ec);
  if (ec) {
    return make_error(ErrorCode::kIoFailed, "bind API socket {}: {}", path, ec.message());
  }
  // Mode and group are set before listen(), so nobody connects through looser permissions.
  if (::chmod(path.c_str(), 0660) != 0) {
    return errno_error(ErrorCode::kIoFailed, "chmod 0660 " + path);
  }
  if (auto gid = lookup_group(impl->options.group)) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      return errno_error(ErrorCode::kIoFailed, "chgrp " + impl->options.group + " " + path);
    }
  }
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kIoFailed, "listen on {}: {}", path, ec.message());
  }
  for (int sig : impl->options.stop_signals) {
    impl->signals.add(sig, ec);
    if (ec) {
      return make_error(ErrorCode::kInternal, "install handler for signal {}: {}", sig,
                        ec.message());
    }
  }
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

Status ApiServer::run() {
  Impl& impl = *impl_;
  impl.signals.async_wait([&impl](beast::error_code ec, int sig) {
    if (!ec)
      impl.begin_stop(sig);
  });
  impl.accept();
  impl.ioc.run();
  // Handlers still running finish before run() returns (they use the caller's context).
  impl.pool->join();
  return ok();
}

void ApiServer::stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_stop(0); });
}

int ApiServer::stop_signal() const { return impl_->stopped_by; }

}  // namespace lobster::api
