// A small blocking HTTP/1.1 client for local control APIs spoken over Unix sockets (Caddy's
// admin API, Firecracker's API). One request per connection (`Connection: close`), a deadline
// for the whole exchange, Content-Length and chunked responses.
//
//   auto r = LOB_TRY(http::request_unix("/run/lobsterd/caddy-admin.sock",
//                                       {.method = "GET", .target = "/config/"}, 5000));
//   if (r.status != 200) ...
#pragma once

#include <map>
#include <string>

#include "core/error.h"

namespace lobster::http {

struct Request {
  std::string method = "GET";
  std::string target = "/";
  std::string host;  // sent as the Host header value (may be empty: Caddy's admin socket wants "")
  std::string body;
  std::string content_type = "application/json";  // only sent with a body
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Errors: kIoFailed if the socket cannot be connected (sys_errno ENOENT / ECONNREFUSED tell
// "not running"), kExecTimeout past the deadline, kProtocolError for a malformed response.
Result<Response> request_unix(const std::string& socket_path, const Request& request,
                              int timeout_ms);

// Parses a complete HTTP/1.1 response (exposed for tests). Returns kProtocolError if malformed
// or incomplete.
Result<Response> parse_response(std::string_view raw);

}  // namespace lobster::http
