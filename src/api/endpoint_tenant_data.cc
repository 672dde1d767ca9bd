// Tenant data endpoints:
//   POST /v1/tenants/{name}/snap   {out?}  encrypted overlay export -> {path, tenant, size, sha256}
//   POST /v1/snaps/verify          {file, restoreTo?}  decrypt + check (+ restore the disk)
//   GET  /v1/tenants/{name}/logs?service=gateway|agent|dropbear  -> {logs}
#include "api/endpoints.h"
#include "core/fs.h"
#include "tenant/service.h"
#include "tenant/snap_file.h"

namespace lobster::api {
namespace {

nlohmann::json meta_json(const std::string& path, const tenant::SnapMeta& m) {
  return {{"path", path},        {"tenant", m.tenant}, {"createdAtMs", m.created_at_ms},
          {"sizeBytes", m.size}, {"sha256", m.sha256}, {"keyId", m.key_id}};
}

Result<std::string> string_field(const nlohmann::json& body, const char* key, bool required) {
  if (!body.is_object() || !body.contains(key)) {
    if (required)
      return make_error(ErrorCode::kValidationFailed, "body: {} is required", key);
    return std::string();
  }
  if (!body[key].is_string() || body[key].get<std::string>().empty() ||
      body[key].get<std::string>().front() != '/') {
    return make_error(ErrorCode::kValidationFailed, "{}: expected an absolute path", key);
  }
  return body[key].get<std::string>();
}

}  // namespace

void register_tenant_data(Router& router, ApiContext& ctx) {
  router.add("POST", "/v1/tenants/{name}/snap", [&ctx](const Request& r) -> Result<Response> {
    std::string out = LOB_TRY(string_field(r.body, "out", false));
    auto res = LOB_TRY(LOB_TRY(service(ctx))->snap(r.params.at("name"), out));
    return Response{200, meta_json(res.path, res.meta)};
  });
  router.add("POST", "/v1/snaps/verify", [&ctx](const Request& r) -> Result<Response> {
    std::string file = LOB_TRY(string_field(r.body, "file", true));
    std::string restore = LOB_TRY(string_field(r.body, "restoreTo", false));
    std::string key = LOB_TRY(tenant::load_or_create_snap_key(ctx.paths.keys_dir()));
    auto meta = LOB_TRY(tenant::verify_snap(file, key, restore));
    nlohmann::json j = meta_json(file, meta);
    j["valid"] = true;
    if (!restore.empty())
      j["restoredTo"] = restore;
    return Response{200, j};
  });
  router.add("GET", "/v1/tenants/{name}/logs", [&ctx](const Request& r) -> Result<Response> {
    agent::LogService which = agent::LogService::kGateway;
    if (auto it = r.query.find("service"); it != r.query.end()) {
      if (it->second == "agent") {
        which = agent::LogService::kAgent;
      } else if (it->second == "dropbear" || it->second == "ssh") {
        which = agent::LogService::kDropbear;
      } else if (it->second != "gateway") {
        return make_error(ErrorCode::kValidationFailed,
                          "service: expected gateway, agent or dropbear, got \"{}\"", it->second);
      }
    }
    std::string logs = LOB_TRY(LOB_TRY(service(ctx))->logs(r.params.at("name"), which));
    return Response{200, {{"logs", logs}}};
  });
}

}  // namespace lobster::api
