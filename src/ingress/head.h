// Ingress request-head routing: the only HTTP the ingress understands. It reads the first
// request head of a connection (bounded size and time, guest/ws/http.h), then route_head()
// decides which tenant it is for. Everything after the head is relayed verbatim and never
// parsed (DESIGN.md "Ingress").
//
//   auto route = route_head(raw.head, "lobster.localhost");
//   if (!route) answer 400 / 404 per route.error().code
//   else connect to tenant route->tenant and replay raw.head + raw.rest
//
// Pure functions, no I/O: head_fuzz.cc feeds them arbitrary bytes under libFuzzer.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::ingress {

struct HeadRoute {
  std::string tenant;  // the DNS label in front of the domain: "alice" for alice.<domain>
  std::string target;  // request-target as sent (for logs and the control endpoints)
  std::string method;
};

// Maps a Host header value to a tenant name. The host is matched case-insensitively, an
// optional ":<port>" (1-5 digits) is ignored, the rest must be exactly "<label>.<domain>"
// where <label> is a valid tenant name (tenant/names.h: a DNS label).
// Errors: kValidationFailed (empty or malformed host, bad port, bad label),
// kTenantNotFound (the host is not a direct sub-domain of `domain`).
Result<std::string> tenant_for_host(std::string_view host, std::string_view domain);

// Parses one request head (request line + headers + blank line, as read_http_head returns
// it) and routes it by its single Host header.
// Errors: kValidationFailed (malformed head, no Host, several Host headers, bad host),
// kTenantNotFound (host outside the domain).
Result<HeadRoute> route_head(std::string_view head, std::string_view domain);

}  // namespace lobster::ingress
