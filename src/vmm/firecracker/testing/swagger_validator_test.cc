#include "vmm/firecracker/testing/swagger_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::vmm::firecracker::testing {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

class SwaggerValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = SwaggerValidator::from_file(LOBSTER_FC_SWAGGER_PATH);
    ASSERT_THAT(v, IsOk());
    validator_.emplace(std::move(*v));
  }
  Status check(const std::string& method, const std::string& path, const std::string& body) {
    return validator_->validate(method, path, body);
  }
  std::optional<SwaggerValidator> validator_;
};

TEST_F(SwaggerValidatorTest, LoadsTheOfficialDocument) {
  EXPECT_EQ(validator_->version(), "1.17.0-dev");
  // Plain YAML integers become JSON integers, quoted strings stay strings.
  EXPECT_EQ(validator_->document()["definitions"]["MachineConfiguration"]["properties"]
                                  ["vcpu_count"]["maximum"],
            32);
  EXPECT_EQ(validator_->document()["definitions"]["CpuTemplate"]["default"], "None");
}

TEST_F(SwaggerValidatorTest, AcceptsAValidRequest) {
  EXPECT_THAT(check("PUT", "/machine-config", R"({"vcpu_count":2,"mem_size_mib":1024})"), IsOk());
  EXPECT_THAT(check("GET", "/", ""), IsOk());
}

TEST_F(SwaggerValidatorTest, RejectsUnknownPathAndMethod) {
  EXPECT_THAT(check("PUT", "/no-such-thing", "{}"), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(check("DELETE", "/vm", ""), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(check("GET", "/", R"({"x":1})"), HasError(ErrorCode::kValidationFailed));
}

TEST_F(SwaggerValidatorTest, RejectsMissingRequiredFieldAndWrongTypes) {
  auto missing = check("PUT", "/machine-config", R"({"vcpu_count":2})");
  ASSERT_THAT(missing, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(missing.error().message, HasSubstr("mem_size_mib"));
  auto wrong = check("PUT", "/machine-config", R"({"vcpu_count":"2","mem_size_mib":1024})");
  ASSERT_THAT(wrong, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(wrong.error().message, HasSubstr("body.vcpu_count: expected integer, got string"));
  EXPECT_THAT(check("PUT", "/machine-config", R"({"vcpu_count":33,"mem_size_mib":1024})"),
              HasError(ErrorCode::kValidationFailed));
}

TEST_F(SwaggerValidatorTest, ChecksEnumsNestedRefsAndUnknownFields) {
  EXPECT_THAT(check("PATCH", "/vm", R"({"state":"Stopped"})"),
              HasError(ErrorCode::kValidationFailed));
  auto nested = check("PUT", "/drives/rootfs",
                      R"({"drive_id":"rootfs","is_root_device":true,"path_on_host":"/r",
                          "rate_limiter":{"bandwidth":{"size":"big","refill_time":1000}}})");
  ASSERT_THAT(nested, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(nested.error().message, HasSubstr("body.rate_limiter.bandwidth.size"));
  auto typo = check("PUT", "/actions", R"({"action_type":"InstanceStart","force":true})");
  ASSERT_THAT(typo, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(typo.error().message, HasSubstr("unknown field 'force'"));
  // Declared additionalProperties schemas are applied (Metrics.properties: string values).
  EXPECT_THAT(check("PUT", "/metrics", R"({"metrics_path":"/m","properties":{"a":"b"}})"), IsOk());
  EXPECT_THAT(check("PUT", "/metrics", R"({"metrics_path":"/m","properties":{"a":1}})"),
              HasError(ErrorCode::kValidationFailed));
}

TEST_F(SwaggerValidatorTest, ChecksRulesStatedInProse) {
  EXPECT_THAT(check("PUT", "/drives/rootfs",
                    R"({"drive_id":"other","is_root_device":true,"path_on_host":"/r"})"),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(check("PUT", "/snapshot/load",
                    R"({"snapshot_path":"/s","mem_file_path":"/m",
                        "mem_backend":{"backend_type":"File","backend_path":"/m"}})"),
              HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(check("PUT", "/snapshot/load", R"({"snapshot_path":"/s"})"),
              HasError(ErrorCode::kValidationFailed));
}

TEST(YamlToJsonTest, ReportsSyntaxErrors) {
  EXPECT_THAT(yaml_to_json("a: [1, 2"), HasError(ErrorCode::kValidationFailed));
  auto j = yaml_to_json("a: \"1\"\nb: 1\nc: true\nd: [x, 'y']\n");
  ASSERT_THAT(j, IsOk());
  EXPECT_EQ(*j, nlohmann::json::parse(R"({"a":"1","b":1,"c":true,"d":["x","y"]})"));
}

}  // namespace
}  // namespace lobster::vmm::firecracker::testing
