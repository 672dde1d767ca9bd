#include "proxy/caddy_admin.h"

#include "host/http/http_client.h"
#include "proxy/caddy_config.h"

namespace lobster::proxy {

Result<std::string> CaddyAdmin::call(const std::string& method, const std::string& target,
                                     const std::string& body) {
  // Caddy's admin endpoint checks the Host header; over a Unix socket it must be empty.
  auto r = http::request_unix(
      socket_, {.method = method, .target = target, .host = "", .body = body}, timeout_ms_);
  if (!r) {
    Error e = r.error();
    e.code = ErrorCode::kCaddyApiError;
    e.message = fmt::format("caddy admin {} {}: {}", method, target, e.message);
    e.hint = "is Caddy running? `lobsterd status` shows the proxy state";
    return make_error(std::move(e));
  }
  if (r->status < 200 || r->status > 299) {
    Error e{ErrorCode::kCaddyApiError,
            fmt::format("caddy admin {} {} failed ({})", method, target, r->status)};
    e.detail = r->body;
    return make_error(std::move(e));
  }
  return std::move(r->body);
}

Status CaddyAdmin::load(const nlohmann::json& config) {
  LOB_TRY(call("POST", "/load", config.dump()));
  return ok();
}

bool CaddyAdmin::reachable() { return call("GET", "/config/admin", "").has_value(); }

}  // namespace lobster::proxy
