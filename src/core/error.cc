#include "core/error.h"

#include <array>
#include <cstring>

namespace lobster {

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kExecFailed:
      return "EXEC_FAILED";
    case ErrorCode::kExecTimeout:
      return "EXEC_TIMEOUT";
    case ErrorCode::kNotRoot:
      return "NOT_ROOT";
    case ErrorCode::kNotLinux:
      return "NOT_LINUX";
    case ErrorCode::kKvmNotAvailable:
      return "KVM_NOT_AVAILABLE";
    case ErrorCode::kFirecrackerNotFound:
      return "FIRECRACKER_NOT_FOUND";
    case ErrorCode::kJailerNotFound:
      return "JAILER_NOT_FOUND";
    case ErrorCode::kJailerSetupFailed:
      return "JAILER_SETUP_FAILED";
    case ErrorCode::kVmBootFailed:
      return "VM_BOOT_FAILED";
    case ErrorCode::kVsockConnectFailed:
      return "VSOCK_CONNECT_FAILED";
    case ErrorCode::kTapCreateFailed:
      return "TAP_CREATE_FAILED";
    case ErrorCode::kCaddyApiError:
      return "CADDY_API_ERROR";
    case ErrorCode::kOverlayCreateFailed:
      return "OVERLAY_CREATE_FAILED";
    case ErrorCode::kConfigNotFound:
      return "CONFIG_NOT_FOUND";
    case ErrorCode::kConfigInvalid:
      return "CONFIG_INVALID";
    case ErrorCode::kTenantExists:
      return "TENANT_EXISTS";
    case ErrorCode::kTenantNotFound:
      return "TENANT_NOT_FOUND";
    case ErrorCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case ErrorCode::kValidationFailed:
      return "VALIDATION_FAILED";
    case ErrorCode::kLockFailed:
      return "LOCK_FAILED";
    case ErrorCode::kBuoyAlreadyRunning:
      return "BUOY_ALREADY_RUNNING";
    case ErrorCode::kSnapshotFailed:
      return "SNAPSHOT_FAILED";
    case ErrorCode::kSuspendFailed:
      return "SUSPEND_FAILED";
    case ErrorCode::kSuspendSkipped:
      return "SUSPEND_SKIPPED";
    case ErrorCode::kResumeFailed:
      return "RESUME_FAILED";
    case ErrorCode::kUninitFailed:
      return "UNINIT_FAILED";
    case ErrorCode::kUnknown:
      return "UNKNOWN";
    case ErrorCode::kDaemonRunning:
      return "DAEMON_RUNNING";
    case ErrorCode::kDaemonNotRunning:
      return "DAEMON_NOT_RUNNING";
    case ErrorCode::kStoreFailed:
      return "STORE_FAILED";
    case ErrorCode::kImageMissing:
      return "IMAGE_MISSING";
    case ErrorCode::kImageCorrupt:
      return "IMAGE_CORRUPT";
    case ErrorCode::kImageBuildFailed:
      return "IMAGE_BUILD_FAILED";
    case ErrorCode::kNetworkFailed:
      return "NETWORK_FAILED";
    case ErrorCode::kFirewallFailed:
      return "FIREWALL_FAILED";
    case ErrorCode::kCgroupFailed:
      return "CGROUP_FAILED";
    case ErrorCode::kVmmFailed:
      return "VMM_FAILED";
    case ErrorCode::kAgentUnauthorized:
      return "AGENT_UNAUTHORIZED";
    case ErrorCode::kProtocolError:
      return "PROTOCOL_ERROR";
    case ErrorCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case ErrorCode::kInvalidState:
      return "INVALID_STATE";
    case ErrorCode::kIoFailed:
      return "IO_FAILED";
    case ErrorCode::kPreflightFailed:
      return "PREFLIGHT_FAILED";
    case ErrorCode::kInternal:
      return "INTERNAL";
    case ErrorCode::kGatewayUnavailable:
      return "GATEWAY_UNAVAILABLE";
    case ErrorCode::kGatewayRpcFailed:
      return "GATEWAY_RPC_FAILED";
    case ErrorCode::kRouteNotFound:
      return "ROUTE_NOT_FOUND";
    case ErrorCode::kIngressUnavailable:
      return "INGRESS_UNAVAILABLE";
  }
  return "UNKNOWN";
}

namespace {
constexpr std::array kAllCodes = {
    ErrorCode::kExecFailed,
    ErrorCode::kExecTimeout,
    ErrorCode::kNotRoot,
    ErrorCode::kNotLinux,
    ErrorCode::kKvmNotAvailable,
    ErrorCode::kFirecrackerNotFound,
    ErrorCode::kJailerNotFound,
    ErrorCode::kJailerSetupFailed,
    ErrorCode::kVmBootFailed,
    ErrorCode::kVsockConnectFailed,
    ErrorCode::kTapCreateFailed,
    ErrorCode::kCaddyApiError,
    ErrorCode::kOverlayCreateFailed,
    ErrorCode::kConfigNotFound,
    ErrorCode::kConfigInvalid,
    ErrorCode::kTenantExists,
    ErrorCode::kTenantNotFound,
    ErrorCode::kPermissionDenied,
    ErrorCode::kValidationFailed,
    ErrorCode::kLockFailed,
    ErrorCode::kBuoyAlreadyRunning,
    ErrorCode::kSnapshotFailed,
    ErrorCode::kSuspendFailed,
    ErrorCode::kSuspendSkipped,
    ErrorCode::kResumeFailed,
    ErrorCode::kUninitFailed,
    ErrorCode::kUnknown,
    ErrorCode::kDaemonRunning,
    ErrorCode::kDaemonNotRunning,
    ErrorCode::kStoreFailed,
    ErrorCode::kImageMissing,
    ErrorCode::kImageCorrupt,
    ErrorCode::kImageBuildFailed,
    ErrorCode::kNetworkFailed,
    ErrorCode::kFirewallFailed,
    ErrorCode::kCgroupFailed,
    ErrorCode::kVmmFailed,
    ErrorCode::kAgentUnauthorized,
    ErrorCode::kProtocolError,
    ErrorCode::kResourceExhausted,
    ErrorCode::kInvalidState,
    ErrorCode::kIoFailed,
    ErrorCode::kPreflightFailed,
    ErrorCode::kInternal,
    ErrorCode::kGatewayUnavailable,
    ErrorCode::kGatewayRpcFailed,
    ErrorCode::kRouteNotFound,
    ErrorCode::kIngressUnavailable,
};
}  // namespace

ErrorCode code_from_name(std::string_view name) {
  for (ErrorCode c : kAllCodes) {
    if (code_name(c) == name) {
      return c;
    }
  }
  return ErrorCode::kUnknown;
}

ExitCode exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidationFailed:
    case ErrorCode::kConfigInvalid:
    case ErrorCode::kConfigNotFound:
      return ExitCode::kUsage;
    case ErrorCode::kTenantNotFound:
    case ErrorCode::kImageMissing:
    case ErrorCode::kRouteNotFound:
      return ExitCode::kNotFound;
    case ErrorCode::kTenantExists:
    case ErrorCode::kDaemonRunning:
    case ErrorCode::kInvalidState:
    case ErrorCode::kSuspendSkipped:
    case ErrorCode::kBuoyAlreadyRunning:
      return ExitCode::kConflict;
    case ErrorCode::kNotRoot:
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kAgentUnauthorized:
      return ExitCode::kPermission;
    case ErrorCode::kDaemonNotRunning:
    case ErrorCode::kLockFailed:
    case ErrorCode::kVsockConnectFailed:
    case ErrorCode::kCaddyApiError:
    case ErrorCode::kKvmNotAvailable:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kGatewayUnavailable:
    case ErrorCode::kIngressUnavailable:
      return ExitCode::kUnavailable;
    case ErrorCode::kExecTimeout:
      return ExitCode::kTimeout;
    case ErrorCode::kExecFailed:
    case ErrorCode::kNotLinux:
    case ErrorCode::kFirecrackerNotFound:
    case ErrorCode::kJailerNotFound:
    case ErrorCode::kJailerSetupFailed:
    case ErrorCode::kVmBootFailed:
    case ErrorCode::kTapCreateFailed:
    case ErrorCode::kOverlayCreateFailed:
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
    case ErrorCode::kProtocolError:
    case ErrorCode::kIoFailed:
    case ErrorCode::kPreflightFailed:
    case ErrorCode::kInternal:
    case ErrorCode::kGatewayRpcFailed:
      return ExitCode::kFailure;
  }
  return ExitCode::kFailure;
}

std::string Error::to_string() const {
  std::string out = fmt::format("{}: {}", code_name(code), message);
  if (!detail.empty()) {
    out += "\n  " + detail;
  }
  if (!hint.empty()) {
    out += "\n  hint: " + hint;
  }
  return out;
}

std::unexpected<Error> make_sys_error(ErrorCode code, int err, std::string what) {
  Error e{code, fmt::format("{}: {}", what, std::strerror(err))};
  e.sys_errno = err;
  return std::unexpected<Error>(std::move(e));
}

}  // namespace lobster
