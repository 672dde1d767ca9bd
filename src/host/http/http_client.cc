#include "host/http/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/unique_fd.h"

namespace lobster::http {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::unexpected<Error> malformed(std::string_view why) {
  return make_error(ErrorCode::kProtocolError, "malformed HTTP response: {}", why);
}

// Decodes a chunked body; returns nullopt if incomplete.
Result<std::string> decode_chunked(std::string_view in) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos)
      return malformed("truncated chunk size");
    std::string size_text(in.substr(pos, eol - pos));
    size_t semi = size_text.find(';');
    if (semi != std::string::npos)
      size_text.resize(semi);
    char* end = nullptr;
    unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
    if (end == size_text.c_str())
      return malformed("bad chunk size");
    pos = eol + 2;
    if (size == 0)
      return out;
    if (pos + size + 2 > in.size())
      return malformed("truncated chunk");
    out.append(in.substr(pos, size));
    pos += size + 2;
  }
}

}  // namespace

Result<Response> parse_response(std::string_view raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string_view::npos)
    return malformed("no end of headers");
  std::string_view head = raw.substr(0, head_end);
  std::string_view rest = raw.substr(head_end + 4);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return malformed("bad status line");
  }
  Response r;
  r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  if (r.status < 100 || r.status > 599)
    return malformed("bad status code");
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos)
      e = head.size();
    std::string_view line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return malformed("bad header line");
    r.headers[lower(std::string(trim(line.substr(0, colon))))] =
        std::string(trim(line.substr(colon + 1)));
    pos = e + 2;
  }
  if (auto te = r.headers.find("transfer-encoding");
      te != r.headers.end() && lower(te->second).find("chunked") != std::string::npos) {
    r.body = LOB_TRY(decode_chunked(rest));
  } else if (auto cl = r.headers.find("content-length"); cl != r.headers.end()) {
    size_t n = std::strtoul(cl->second.c_str(), nullptr, 10);
    if (rest.size() < n)
      return malformed("truncated body");
    r.body = std::string(rest.substr(0, n));
  } else {
    r.body = std::string(rest);
  }
  return r;
}

Result<Response> request_unix(const std::string& socket_path, const Request& request,
                              int timeout_ms) {
  int64_t deadline = mono_ms() + timeout_ms;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInternal, "socket path too long: {}", socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "socket");
  // Kernel ABI: sockaddr_un is a sockaddr for connect(2).
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kIoFailed, "connect " + socket_path);
  }
  std::string wire = request.method + " " + request.target + " HTTP/1.1\r\nHost: " + request.host +
                     "\r\nConnection: close\r\nAccept: application/json\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    wire += "Content-Type: " + request.content_type +
            "\r\nContent-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  wire += "\r\n" + request.body;

  auto wait_for = [&](short events) -> Status {
    for (;;) {
      int64_t left = deadline - mono_ms();
      if (left <= 0) {
        return make_error(ErrorCode::kExecTimeout, "{} {} on {}: no answer within {} ms",
                          request.method, request.target, socket_path, timeout_ms);
      }
      pollfd p{fd.get(), events, 0};
      int n = ::poll(&p, 1, static_cast<int>(left));
      if (n > 0)
        return ok();
      if (n < 0 && errno != EINTR)
        return errno_error(ErrorCode::kIoFailed, "poll");
    }
  };
  size_t off = 0;
  while (off < wire.size()) {
    LOB_TRY(wait_for(POLLOUT));
    ssize_t n = ::send(fd.get(), wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return errno_error(ErrorCode::kIoFailed, "send to " + socket_path);
    }
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    LOB_TRY(wait_for(POLLIN));
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return errno_error(ErrorCode::kIoFailed, "recv from " + socket_path);
    }
    if (n == 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > (64u << 20))
      return malformed("response larger than 64 MiB");
  }
  return parse_response(raw);
}

}  // namespace lobster::http
