#include "vmm/firecracker/http.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace lobster::vmm::firecracker {
namespace {

struct Head {
  std::string start_line;
  std::map<std::string, std::string> headers;
  size_t body_offset = 0;
  size_t content_length = 0;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Parses the start line and headers. nullopt while the blank line has not arrived.
Result<std::optional<Head>> parse_head(const std::string& buffer) {
  const size_t end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buffer.size() > kMaxHeaderBytes) {
      return make_error(ErrorCode::kProtocolError, "HTTP header block exceeds {} bytes",
                        kMaxHeaderBytes);
    }
    return std::optional<Head>();
  }
  Head head;
  head.body_offset = end + 4;
  size_t pos = buffer.find("\r\n");
  head.start_line = buffer.substr(0, pos);
  while (pos < end) {
    const size_t line_start = pos + 2;
    const size_t line_end = buffer.find("\r\n", line_start);
    std::string_view line(buffer.data() + line_start, line_end - line_start);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error(ErrorCode::kProtocolError, "malformed HTTP header line '{}'", line);
    }
    head.headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    pos = line_end;
  }
  if (auto te = head.headers.find("transfer-encoding"); te != head.headers.end()) {
    return make_error(ErrorCode::kProtocolError, "unsupported Transfer-Encoding '{}'", te->second);
  }
  if (auto cl = head.headers.find("content-length"); cl != head.headers.end()) {
    const std::string& v = cl->second;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), head.content_length);
    if (ec != std::errc() || p != v.data() + v.size()) {
      return make_error(ErrorCode::kProtocolError, "bad Content-Length '{}'", v);
    }
    if (head.content_length > kMaxBodyBytes) {
      return make_error(ErrorCode::kProtocolError, "HTTP body of {} bytes exceeds {} bytes",
                        head.content_length, kMaxBodyBytes);
    }
  }
  return std::optional<Head>(std::move(head));
}

std::vector<std::string_view> split_start_line(std::string_view line, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (!line.empty() && parts.size() + 1 < max_parts) {
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos)
      break;
    parts.push_back(line.substr(0, sp));
    line.remove_prefix(sp + 1);
  }
  parts.push_back(line);
  return parts;
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    default:
      return "Unknown";
  }
}

std::string format_request(const std::string& method, const std::string& target,
                           const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  out += "Accept: application/json\r\n";
  if (!body.empty()) {
    out += "Content-Type: application/json\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

std::string format_response(int status, const std::string& body) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: lobster-fake-firecracker\r\n", status,
                                reason_phrase(status));
  if (!body.empty()) {
    out += "Content-Type: application/json\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

Result<std::optional<HttpRequest>> parse_request(std::string& buffer) {
  auto head = LOB_TRY(parse_head(buffer));
  if (!head || buffer.size() < head->body_offset + head->content_length) {
    return std::optional<HttpRequest>();
  }
  auto parts = split_start_line(head->start_line, 3);
  if (parts.size() != 3 || !parts[2].starts_with("HTTP/1.")) {
    return make_error(ErrorCode::kProtocolError, "malformed HTTP request line '{}'",
                      head->start_line);
  }
  HttpRequest req{std::string(parts[0]), std::string(parts[1]), std::move(head->headers),
                  buffer.substr(head->body_offset, head->content_length)};
  buffer.erase(0, head->body_offset + head->content_length);
  return std::optional<HttpRequest>(std::move(req));
}

Result<std::optional<HttpResponse>> parse_response(std::string& buffer) {
  auto head = LOB_TRY(parse_head(buffer));
  if (!head || buffer.size() < head->body_offset + head->content_length) {
    return std::optional<HttpResponse>();
  }
  auto parts = split_start_line(head->start_line, 3);
  int status = 0;
  if (parts.size() >= 2 && parts[0].starts_with("HTTP/1.")) {
    auto [p, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), status);
    if (ec != std::errc() || p != parts[1].data() + parts[1].size())
      status = 0;
  }
  if (status < 100 || status > 599) {
    return make_error(ErrorCode::kProtocolError, "malformed HTTP status line '{}'",
                      head->start_line);
  }
  HttpResponse resp{status, parts.size() == 3 ? std::string(parts[2]) : std::string(),
                    std::move(head->headers),
                    buffer.substr(head->body_offset, head->content_length)};
  buffer.erase(0, head->body_offset + head->content_length);
  return std::optional<HttpResponse>(std::move(resp));
}

}  // namespace lobster::vmm::firecracker
