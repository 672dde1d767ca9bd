#include "api/router.h"

#include <cstdlib>

#include "api/http_status.h"

namespace lobster::api {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos)
      j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
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

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
               hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  size_t q = target.find('?');
  path = std::string(target.substr(0, q));
  if (q == std::string_view::npos)
    return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (!key.empty())
      query[key] = value;
    if (amp == std::string_view::npos)
      break;
    rest = rest.substr(amp + 1);
  }
}

Response error_response(const Error& error) {
  return Response{http_status_for(error.code), error_body(error)};
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  std::vector<std::string> segments = split_path(pattern);
  for (const Route& r : routes_) {
    if (r.method == method && r.segments == segments) {
      std::abort();  // Two endpoints registered for the same route: a wiring bug.
    }
  }
  routes_.push_back({std::move(method), std::move(segments), std::move(handler)});
}

Response Router::dispatch(Request& request) const {
  std::vector<std::string> segments = split_path(request.path);
  for (const Route& r : routes_) {
    if (r.method != request.method || r.segments.size() != segments.size())
      continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (is_param(r.segments[i])) {
        params[r.segments[i].substr(1, r.segments[i].size() - 2)] = percent_decode(segments[i]);
      } else {
        match = r.segments[i] == segments[i];
      }
    }
    if (!match)
      continue;
    request.params = std::move(params);
    Result<Response> result = r.handler(request);
    if (!result)
      return error_response(result.error());
    return std::move(*result);
  }
  Error e{ErrorCode::kRouteNotFound,
          fmt::format("no endpoint for {} {}", request.method, request.path)};
  e.hint = "the daemon may be older than this CLI: restart it with the same lobsterd version";
  return error_response(e);
}

}  // namespace lobster::api
