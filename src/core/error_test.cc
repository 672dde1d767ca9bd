#include "core/error.h"

#include <gtest/gtest.h>

namespace lobster {
namespace {

// These strings are API (CLI --json, REST bodies, audit log): changing one is a breaking change.
TEST(ErrorCodeTest, StableNames) {
  const std::pair<ErrorCode, const char*> kPinned[] = {
      {ErrorCode::kExecFailed, "EXEC_FAILED"},
      {ErrorCode::kExecTimeout, "EXEC_TIMEOUT"},
      {ErrorCode::kNotRoot, "NOT_ROOT"},
      {ErrorCode::kNotLinux, "NOT_LINUX"},
      {ErrorCode::kKvmNotAvailable, "KVM_NOT_AVAILABLE"},
      {ErrorCode::kFirecrackerNotFound, "FIRECRACKER_NOT_FOUND"},
      {ErrorCode::kJailerNotFound, "JAILER_NOT_FOUND"},
      {ErrorCode::kJailerSetupFailed, "JAILER_SETUP_FAILED"},
      {ErrorCode::kVmBootFailed, "VM_BOOT_FAILED"},
      {ErrorCode::kVsockConnectFailed, "VSOCK_CONNECT_FAILED"},
      {ErrorCode::kTapCreateFailed, "TAP_CREATE_FAILED"},
      {ErrorCode::kCaddyApiError, "CADDY_API_ERROR"},
      {ErrorCode::kOverlayCreateFailed, "OVERLAY_CREATE_FAILED"},
      {ErrorCode::kConfigNotFound, "CONFIG_NOT_FOUND"},
      {ErrorCode::kConfigInvalid, "CONFIG_INVALID"},
      {ErrorCode::kTenantExists, "TENANT_EXISTS"},
      {ErrorCode::kTenantNotFound, "TENANT_NOT_FOUND"},
      {ErrorCode::kPermissionDenied, "PERMISSION_DENIED"},
      {ErrorCode::kValidationFailed, "VALIDATION_FAILED"},
      {ErrorCode::kLockFailed, "LOCK_FAILED"},
      {ErrorCode::kBuoyAlreadyRunning, "BUOY_ALREADY_RUNNING"},
      {ErrorCode::kSnapshotFailed, "SNAPSHOT_FAILED"},
      {ErrorCode::kSuspendFailed, "SUSPEND_FAILED"},
      {ErrorCode::kSuspendSkipped, "SUSPEND_SKIPPED"},
      {ErrorCode::kResumeFailed, "RESUME_FAILED"},
      {ErrorCode::kUninitFailed, "UNINIT_FAILED"},
      {ErrorCode::kUnknown, "UNKNOWN"},
      {ErrorCode::kDaemonRunning, "DAEMON_RUNNING"},
      {ErrorCode::kDaemonNotRunning, "DAEMON_NOT_RUNNING"},
      {ErrorCode::kStoreFailed, "STORE_FAILED"},
      {ErrorCode::kImageMissing, "IMAGE_MISSING"},
      {ErrorCode::kImageCorrupt, "IMAGE_CORRUPT"},
      {ErrorCode::kImageBuildFailed, "IMAGE_BUILD_FAILED"},
      {ErrorCode::kNetworkFailed, "NETWORK_FAILED"},
      {ErrorCode::kFirewallFailed, "FIREWALL_FAILED"},
      {ErrorCode::kCgroupFailed, "CGROUP_FAILED"},
      {ErrorCode::kVmmFailed, "VMM_FAILED"},
      {ErrorCode::kAgentUnauthorized, "AGENT_UNAUTHORIZED"},
      {ErrorCode::kProtocolError, "PROTOCOL_ERROR"},
      {ErrorCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {ErrorCode::kInvalidState, "INVALID_STATE"},
      {ErrorCode::kIoFailed, "IO_FAILED"},
      {ErrorCode::kPreflightFailed, "PREFLIGHT_FAILED"},
      {ErrorCode::kInternal, "INTERNAL"},
      {ErrorCode::kGatewayUnavailable, "GATEWAY_UNAVAILABLE"},
      {ErrorCode::kGatewayRpcFailed, "GATEWAY_RPC_FAILED"},
      {ErrorCode::kRouteNotFound, "ROUTE_NOT_FOUND"},
      {ErrorCode::kIngressUnavailable, "INGRESS_UNAVAILABLE"},
  };
  for (const auto& [code, name] : kPinned) {
    EXPECT_EQ(code_name(code), name);
    EXPECT_EQ(code_from_name(name), code);
  }
  EXPECT_EQ(code_from_name("NO_SUCH_CODE"), ErrorCode::kUnknown);
}

TEST(ErrorCodeTest, ExitCodesByClass) {
  EXPECT_EQ(exit_code_for(ErrorCode::kConfigInvalid), ExitCode::kUsage);
  EXPECT_EQ(exit_code_for(ErrorCode::kTenantNotFound), ExitCode::kNotFound);
  EXPECT_EQ(exit_code_for(ErrorCode::kDaemonRunning), ExitCode::kConflict);
  EXPECT_EQ(exit_code_for(ErrorCode::kPermissionDenied), ExitCode::kPermission);
  EXPECT_EQ(exit_code_for(ErrorCode::kDaemonNotRunning), ExitCode::kUnavailable);
  EXPECT_EQ(exit_code_for(ErrorCode::kExecTimeout), ExitCode::kTimeout);
  EXPECT_EQ(exit_code_for(ErrorCode::kVmBootFailed), ExitCode::kFailure);
}

Result<int> half(int x) {
  if (x % 2 != 0) return make_error(ErrorCode::kValidationFailed, "{} is odd", x);
  return x / 2;
}

Result<int> quarter(int x) {
  int h = LOB_TRY(half(x));
  return LOB_TRY(half(h));
}

Status check_even(int x) {
  LOB_TRY(half(x));
  return ok();
}

TEST(ErrorTest, TryPropagatesFirstError) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().message, "3 is odd");
  EXPECT_TRUE(check_even(2).has_value());
  EXPECT_FALSE(check_even(3).has_value());
}

TEST(ErrorTest, SysErrorCarriesErrno) {
  auto e = make_sys_error(ErrorCode::kTapCreateFailed, EBUSY, "create TAP lt3");
  EXPECT_EQ(e.error().sys_errno, EBUSY);
  EXPECT_EQ(e.error().message, "create TAP lt3: Device or resource busy");
  Error with_detail{ErrorCode::kExecFailed, "x failed", 0, "stderr text", "do y"};
  EXPECT_EQ(with_detail.to_string(), "EXEC_FAILED: x failed\n  stderr text\n  hint: do y");
}

}  // namespace
}  // namespace lobster
