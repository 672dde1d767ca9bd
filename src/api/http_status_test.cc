#include "api/http_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lobster::api {
namespace {

TEST(HttpStatusTest, SpecTableIsKept) {
  // Spec §12: the original's REST statuses are API for existing clients.
  const std::pair<ErrorCode, unsigned> kSpec[] = {
      {ErrorCode::kExecFailed, 500},
      {ErrorCode::kExecTimeout, 504},
      {ErrorCode::kNotRoot, 403},
      {ErrorCode::kNotLinux, 500},
      {ErrorCode::kKvmNotAvailable, 500},
      {ErrorCode::kFirecrackerNotFound, 500},
      {ErrorCode::kJailerNotFound, 500},
      {ErrorCode::kJailerSetupFailed, 500},
      {ErrorCode::kVmBootFailed, 500},
      {ErrorCode::kVsockConnectFailed, 502},
      {ErrorCode::kTapCreateFailed, 500},
      {ErrorCode::kCaddyApiError, 502},
      {ErrorCode::kOverlayCreateFailed, 500},
      {ErrorCode::kConfigNotFound, 500},
      {ErrorCode::kConfigInvalid, 500},
      {ErrorCode::kTenantExists, 409},
      {ErrorCode::kTenantNotFound, 404},
      {ErrorCode::kPermissionDenied, 403},
      {ErrorCode::kValidationFailed, 422},
      {ErrorCode::kLockFailed, 503},
      {ErrorCode::kBuoyAlreadyRunning, 500},
      {ErrorCode::kSnapshotFailed, 500},
      {ErrorCode::kSuspendFailed, 500},
      {ErrorCode::kSuspendSkipped, 422},
      {ErrorCode::kResumeFailed, 500},
      {ErrorCode::kUninitFailed, 500},
      {ErrorCode::kUnknown, 500},
  };
  for (const auto& [code, status] : kSpec) {
    EXPECT_EQ(http_status_for(code), status) << code_name(code);
  }
}

TEST(HttpStatusTest, NewCodesGetTheirClass) {
  EXPECT_EQ(http_status_for(ErrorCode::kRouteNotFound), 404u);
  EXPECT_EQ(http_status_for(ErrorCode::kDaemonRunning), 409u);
  EXPECT_EQ(http_status_for(ErrorCode::kInvalidState), 409u);
  EXPECT_EQ(http_status_for(ErrorCode::kResourceExhausted), 503u);
  EXPECT_EQ(http_status_for(ErrorCode::kProtocolError), 502u);
  EXPECT_EQ(http_status_for(ErrorCode::kStoreFailed), 500u);
}

TEST(HttpStatusTest, ErrorBodyRoundTripsWithoutDetail) {
  Error e{ErrorCode::kTenantNotFound, "tenant 'x' not found", 0, "secret stderr", "spawn it"};
  nlohmann::json body = error_body(e);
  EXPECT_EQ(body["code"], "TENANT_NOT_FOUND");
  EXPECT_EQ(body["hint"], "spawn it");
  EXPECT_FALSE(body.contains("detail"));
  Error back = error_from_reply(404, body.dump());
  EXPECT_EQ(back.code, ErrorCode::kTenantNotFound);
  EXPECT_EQ(back.message, "tenant 'x' not found");
  EXPECT_EQ(back.hint, "spawn it");
}

TEST(HttpStatusTest, EmptyHintIsOmitted) {
  EXPECT_FALSE(error_body(Error{ErrorCode::kInternal, "x"}).contains("hint"));
}

TEST(HttpStatusTest, NonStandardBodyIsAProtocolError) {
  Error e = error_from_reply(502, "<html>bad gateway</html>");
  EXPECT_EQ(e.code, ErrorCode::kProtocolError);
  EXPECT_THAT(e.message, ::testing::HasSubstr("502"));
  EXPECT_EQ(error_from_reply(500, R"({"code":5,"message":"x"})").code, ErrorCode::kProtocolError);
}

}  // namespace
}  // namespace lobster::api
