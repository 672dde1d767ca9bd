#include "guest/ws/http.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>

namespace lobster::guest::ws {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits a head into lines (CRLF separated; the final empty line excluded).
std::vector<std::string_view> head_lines(std::string_view head) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t eol = head.find("\r\n");
    if (eol == std::string_view::npos) {
      lines.push_back(head);
      break;
    }
    if (eol == 0) {
      break;
    }
    lines.push_back(head.substr(0, eol));
    head.remove_prefix(eol + 2);
  }
  return lines;
}

Result<HttpHeaders> parse_headers(const std::vector<std::string_view>& lines) {
  HttpHeaders headers;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return make_error(ErrorCode::kProtocolError, "malformed HTTP header line");
    }
    std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) {
      return make_error(ErrorCode::kProtocolError, "malformed HTTP header name");
    }
    headers.items.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return headers;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

}  // namespace

int remaining_ms(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  if (left <= 0)
    return 0;
  return static_cast<int>(std::min<int64_t>(left, INT_MAX));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::optional<std::string_view> HttpHeaders::get(std::string_view name) const {
  for (const auto& [k, v] : items) {
    if (iequals(k, name))
      return std::string_view(v);
  }
  return std::nullopt;
}

bool HttpHeaders::has_token(std::string_view name, std::string_view token) const {
  for (const auto& [k, v] : items) {
    if (!iequals(k, name))
      continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      if (iequals(part, token))
        return true;
      if (comma == std::string_view::npos)
        break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::optional<std::string> HttpRequest::query_param(std::string_view key) const {
  std::string_view t = target;
  size_t q = t.find('?');
  if (q == std::string_view::npos)
    return std::nullopt;
  std::string_view query = t.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    if (percent_decode(k) == key) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

Result<RawHead> read_http_head(int fd, Deadline deadline, size_t max_bytes) {
  std::string buf;
  std::array<char, 4096> chunk{};
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      RawHead out;
      out.rest = buf.substr(end + 4);
      buf.resize(end + 4);
      out.head = std::move(buf);
      return out;
    }
    if (buf.size() > max_bytes) {
      return make_error(ErrorCode::kProtocolError, "HTTP head larger than {} bytes", max_bytes);
    }
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kIoFailed, "poll while reading HTTP head");
    }
    if (n == 0)
      return make_error(ErrorCode::kExecTimeout, "timed out reading HTTP head");
    ssize_t got = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return errno_error(ErrorCode::kIoFailed, "read HTTP head");
    }
    if (got == 0)
      return make_error(ErrorCode::kProtocolError, "peer closed before HTTP head end");
    buf.append(chunk.data(), static_cast<size_t>(got));
  }
}

Result<HttpRequest> parse_http_request(std::string_view head) {
  auto lines = head_lines(head);
  if (lines.empty())
    return make_error(ErrorCode::kProtocolError, "empty HTTP request");
  std::string_view first = lines[0];
  size_t sp1 = first.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : first.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
    return make_error(ErrorCode::kProtocolError, "malformed HTTP request line");
  }
  std::string_view version = first.substr(sp2 + 1);
  if (!version.starts_with("HTTP/1.")) {
    return make_error(ErrorCode::kProtocolError, "unsupported HTTP version");
  }
  HttpRequest req;
  req.method = std::string(first.substr(0, sp1));
  req.target = std::string(first.substr(sp1 + 1, sp2 - sp1 - 1));
  req.headers = LOB_TRY(parse_headers(lines));
  return req;
}

Result<HttpResponseHead> parse_http_response(std::string_view head) {
  auto lines = head_lines(head);
  if (lines.empty())
    return make_error(ErrorCode::kProtocolError, "empty HTTP response");
  std::string_view first = lines[0];
  if (!first.starts_with("HTTP/1.") || first.size() < 12 || first[8] != ' ') {
    return make_error(ErrorCode::kProtocolError, "malformed HTTP status line");
  }
  HttpResponseHead resp;
  std::string_view code = first.substr(9, 3);
  auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), resp.status);
  if (ec != std::errc() || ptr != code.data() + code.size()) {
    return make_error(ErrorCode::kProtocolError, "malformed HTTP status code");
  }
  resp.reason = first.size() > 13 ? std::string(first.substr(13)) : std::string();
  resp.headers = LOB_TRY(parse_headers(lines));
  return resp;
}

Status write_all(int fd, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN)
      return errno_error(ErrorCode::kIoFailed, "socket write");
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno != EINTR)
      return errno_error(ErrorCode::kIoFailed, "poll for write");
    if (r == 0)
      return make_error(ErrorCode::kExecTimeout, "timed out writing to socket");
  }
  return ok();
}

}  // namespace lobster::guest::ws
