// Minimal HTTP/1.1 messages as Firecracker's API speaks them over its Unix socket: one request,
// one response, bodies framed by Content-Length (Firecracker never sends chunked bodies).
// Shared by the API client and the test server; no I/O here, only formatting and parsing.
//
//   std::string wire = format_request("PUT", "/actions", R"({"action_type":"InstanceStart"})");
//   std::string buffer = ...received bytes...;
//   auto r = LOB_TRY(parse_response(buffer));   // nullopt: need more bytes
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/error.h"

namespace lobster::vmm::firecracker {

struct HttpRequest {
  std::string method;
  std::string target;                          // "/drives/rootfs"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Largest header block and body accepted (kProtocolError beyond).
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;
inline constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;

// "Host: localhost", plus "Content-Type: application/json" and Content-Length with a body.
std::string format_request(const std::string& method, const std::string& target,
                           const std::string& body);
// A response with Content-Length (0 for 204), Content-Type JSON when a body is present.
std::string format_response(int status, const std::string& body);

// Parse one complete message from the front of `buffer` and erase it from the buffer.
// nullopt: incomplete so far. kProtocolError: malformed or too large.
Result<std::optional<HttpRequest>> parse_request(std::string& buffer);
Result<std::optional<HttpResponse>> parse_response(std::string& buffer);

std::string_view reason_phrase(int status);

}  // namespace lobster::vmm::firecracker
