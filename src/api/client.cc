#include "api/client.h"

#include <cerrno>

#include "api/http_status.h"
#include "host/http/http_client.h"

namespace lobster::api {

Result<Reply> ApiClient::request(const std::string& method, const std::string& target,
                                 const nlohmann::json& body) const {
  http::Request req;
  req.method = method;
  req.target = target;
  req.host = "lobsterd";
  if (!body.is_null())
    req.body = body.dump();
  auto raw = http::request_unix(socket_path_, req, timeout_ms_);
  if (!raw) {
    Error e = raw.error();
    if (e.code == ErrorCode::kIoFailed &&
        (e.sys_errno == ENOENT || e.sys_errno == ECONNREFUSED || e.sys_errno == ENOTDIR)) {
      Error down{
          ErrorCode::kDaemonNotRunning,
          fmt::format("no lobsterd daemon is running (nothing listens on {})", socket_path_)};
      down.sys_errno = e.sys_errno;
      down.hint =
          "start it with `lobsterd init` (sets up the host, then starts the daemon) or "
          "`lobsterd daemon` (same --root)";
      return make_error(std::move(down));
    }
    if (e.code == ErrorCode::kIoFailed && (e.sys_errno == EACCES || e.sys_errno == EPERM)) {
      e.code = ErrorCode::kPermissionDenied;
      e.hint = "run as root, or as a member of group lobsterd";
    }
    return make_error(std::move(e));
  }
  Reply reply;
  reply.status = static_cast<unsigned>(raw->status);
  reply.body = nlohmann::json::parse(raw->body, nullptr, /*allow_exceptions=*/false);
  if (reply.body.is_discarded())
    reply.body = nullptr;
  return reply;
}

Result<nlohmann::json> ApiClient::call(const std::string& method, const std::string& target,
                                       const nlohmann::json& body) const {
  Reply reply = LOB_TRY(request(method, target, body));
  if (reply.status >= 200 && reply.status < 300 && !reply.body.is_null()) {
    return std::move(reply.body);
  }
  std::string text = reply.body.is_null() ? std::string() : reply.body.dump();
  return make_error(error_from_reply(reply.status, text));
}

}  // namespace lobster::api
