#include "ingress/head.h"

#include <algorithm>

#include "guest/ws/http.h"
#include "tenant/names.h"

namespace lobster::ingress {
namespace {

std::unexpected<Error> bad_head(std::string message) {
  return with_hint(Error{ErrorCode::kValidationFailed, std::move(message)},
                   "send one HTTP/1.x request head with a Host header <tenant>.<domain>");
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::unexpected<Error> not_served(std::string_view domain) {
  return with_hint(Error{ErrorCode::kTenantNotFound, "no tenant is served at this host"},
                   "tenants are reachable at https://<name>." + std::string(domain));
}

}  // namespace

Result<std::string> tenant_for_host(std::string_view host_value, std::string_view domain) {
  std::string host = lowercase(host_value);
  if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    std::string_view port = std::string_view(host).substr(colon + 1);
    if (port.empty() || port.size() > 5 || !all_digits(port))
      return bad_head("malformed port in Host header");
    host.resize(colon);
  }
  if (host.empty() || host.size() > 253)
    return bad_head("empty or overlong Host header");
  std::string suffix = "." + lowercase(domain);
  if (host.size() <= suffix.size() || !host.ends_with(suffix)) {
    return not_served(domain);
  }
  std::string label = host.substr(0, host.size() - suffix.size());
  if (label.find('.') != std::string::npos) {
    return not_served(domain);
  }
  LOB_TRY(tenant::validate_name(label));
  return label;
}

Result<HeadRoute> route_head(std::string_view head, std::string_view domain) {
  auto request = guest::ws::parse_http_request(head);
  if (!request)
    return bad_head("malformed request head: " + request.error().message);
  const std::string* host = nullptr;
  for (const auto& [name, value] : request->headers.items) {
    if (!guest::ws::iequals(name, "Host"))
      continue;
    if (host != nullptr)
      return bad_head("several Host headers");
    host = &value;
  }
  if (host == nullptr)
    return bad_head("missing Host header");
  HeadRoute route;
  route.tenant = LOB_TRY(tenant_for_host(*host, domain));
  route.target = std::move(request->target);
  route.method = std::move(request->method);
  return route;
}

}  // namespace lobster::ingress
