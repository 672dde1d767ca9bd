#include "api/http_status.h"

namespace lobster::api {

unsigned http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTenantNotFound:
    case ErrorCode::kRouteNotFound:
      return 404;
    case ErrorCode::kTenantExists:
    case ErrorCode::kDaemonRunning:
    case ErrorCode::kInvalidState:
    case ErrorCode::kImageMissing:
      return 409;
    case ErrorCode::kNotRoot:
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kValidationFailed:
    case ErrorCode::kSuspendSkipped:
      return 422;
    case ErrorCode::kLockFailed:
    case ErrorCode::kDaemonNotRunning:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kGatewayUnavailable:
    case ErrorCode::kIngressUnavailable:
      return 503;
    case ErrorCode::kVsockConnectFailed:
    case ErrorCode::kCaddyApiError:
    case ErrorCode::kAgentUnauthorized:
    case ErrorCode::kProtocolError:
    case ErrorCode::kGatewayRpcFailed:
      return 502;
    case ErrorCode::kExecTimeout:
      return 504;
    case ErrorCode::kExecFailed:
    case ErrorCode::kNotLinux:
    case ErrorCode::kKvmNotAvailable:
    case ErrorCode::kFirecrackerNotFound:
    case ErrorCode::kJailerNotFound:
    case ErrorCode::kJailerSetupFailed:
    case ErrorCode::kVmBootFailed:
    case ErrorCode::kTapCreateFailed:
    case ErrorCode::kOverlayCreateFailed:
    case ErrorCode::kConfigNotFound:
    case ErrorCode::kConfigInvalid:
    case ErrorCode::kBuoyAlreadyRunning:
    case ErrorCode::kSnapshotFailed:
    case ErrorCode::kSuspendFailed:
    case ErrorCode::kResumeFailed:
    case ErrorCode::kUninitFailed:
    case ErrorCode::kUnknown:
    case ErrorCode::kStoreFailed:
    case ErrorCode::kImageCorrupt:
    case ErrorCode::kImageBuildFailed:
    case ErrorCode::kNetworkFailed:
    case ErrorCode::kFirewallFailed:
    case ErrorCode::kCgroupFailed:
    case ErrorCode::kVmmFailed:
    case ErrorCode::kIoFailed:
    case ErrorCode::kPreflightFailed:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

nlohmann::json error_body(const Error& error) {
  nlohmann::json j = {{"code", code_name(error.code)}, {"message", error.message}};
  if (!error.hint.empty()) {
    j["hint"] = error.hint;
  }
  return j;
}

Error error_from_reply(unsigned status, std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("code") || !j["code"].is_string() || !j.contains("message") ||
      !j["message"].is_string()) {
    std::string shown(body.substr(0, 200));
    return Error{ErrorCode::kProtocolError,
                 fmt::format("daemon answered HTTP {} without an error body", status), 0, shown};
  }
  Error e{code_from_name(j["code"].get<std::string>()), j["message"].get<std::string>()};
  if (j.contains("hint") && j["hint"].is_string()) {
    e.hint = j["hint"].get<std::string>();
  }
  return e;
}

}  // namespace lobster::api
