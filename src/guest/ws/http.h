// Minimal HTTP/1.1 request/response head handling for the WebSocket opening handshake
// (RFC 6455 §4) and the test gateway's plain HTTP endpoints. Heads only: no bodies, no
// chunking. Header names are matched case-insensitively.
//
//   auto head = LOB_TRY(read_http_head(fd, deadline, 16 * 1024));
//   auto req = LOB_TRY(parse_http_request(head.head));
//   if (req.method == "GET" && req.path() == "/health") ...
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace lobster::guest::ws {

using Deadline = std::chrono::steady_clock::time_point;

// Milliseconds left until `deadline` (0 if passed), clamped to int for poll(2).
int remaining_ms(Deadline deadline);

struct HttpHeaders {
  std::vector<std::pair<std::string, std::string>> items;  // names as sent, values trimmed

  // The first value for `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // True if the comma-separated header `name` contains `token` (case-insensitive).
  bool has_token(std::string_view name, std::string_view token) const;
};

struct HttpRequest {
  std::string method;
  std::string target;  // request-target as sent ("/ws?token=x")
  HttpHeaders headers;

  std::string_view path() const;  // target without the query
  // The value of query parameter `key` (percent-decoded), or nullopt.
  std::optional<std::string> query_param(std::string_view key) const;
};

struct HttpResponseHead {
  int status = 0;
  std::string reason;
  HttpHeaders headers;
};

// A head read off a socket: everything up to and including the blank line, plus any bytes
// that arrived after it (they belong to the next protocol layer).
struct RawHead {
  std::string head;
  std::string rest;
};

// Reads until "\r\n\r\n". kProtocolError if the head exceeds `max_bytes` or the peer closes
// first; kExecTimeout at the deadline; kIoFailed on socket errors.
Result<RawHead> read_http_head(int fd, Deadline deadline, size_t max_bytes);

Result<HttpRequest> parse_http_request(std::string_view head);
Result<HttpResponseHead> parse_http_response(std::string_view head);

// Writes all of `data` before the deadline (kExecTimeout / kIoFailed).
Status write_all(int fd, std::string_view data, Deadline deadline);

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);

}  // namespace lobster::guest::ws
