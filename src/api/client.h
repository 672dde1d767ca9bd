// ApiClient: the CLI's side of the daemon API (HTTP/1.1 over the Unix socket, one request per
// connection, JSON both ways). Replies other than 2xx come back as the daemon's Error (same
// code, message and hint), so the CLI prints and exits exactly as if the error were local.
//
//   api::ApiClient client(paths.api_socket());
//   nlohmann::json status = LOB_TRY(client.get("/v1/status"));
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace lobster::api {

struct Reply {
  unsigned status = 0;
  nlohmann::json body;  // null when the body is not JSON
};

class ApiClient {
 public:
  explicit ApiClient(std::string socket_path, int timeout_ms = 30'000)
      : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  // Any status is returned as a Reply. Errors: kDaemonNotRunning (no socket, refused),
  // kPermissionDenied (socket not accessible), kExecTimeout, kProtocolError.
  Result<Reply> request(const std::string& method, const std::string& target,
                        const nlohmann::json& body = nullptr) const;

  // 2xx -> the JSON body; otherwise the daemon's error (error_from_reply).
  Result<nlohmann::json> call(const std::string& method, const std::string& target,
                              const nlohmann::json& body = nullptr) const;
  Result<nlohmann::json> get(const std::string& target) const { return call("GET", target); }
  Result<nlohmann::json> post(const std::string& target, const nlohmann::json& body) const {
    return call("POST", target, body);
  }

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  int timeout_ms_;
};

}  // namespace lobster::api
