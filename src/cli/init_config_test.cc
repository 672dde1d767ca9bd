#include "cli/init_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::cli {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

const Paths kPaths = Paths::under("/tmp/lobster-init-test");

TEST(InitConfigTest, NoFileWritesDefaultsWithDomain) {
  auto plan = plan_init_config(std::nullopt, std::string("agents.example.com"), kPaths);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->action, "written");
  ASSERT_TRUE(plan->new_text.has_value());
  auto back = parse_config(*plan->new_text, kPaths);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->caddy.domain, "agents.example.com");
  EXPECT_EQ(back->firecracker.default_mem_size_mb, 1024);
}

TEST(InitConfigTest, ValidFileIsKeptWithoutDomain) {
  std::string text = R"({"watchdog": {"intervalMs": 20000}})";
  auto plan = plan_init_config(text, std::nullopt, kPaths);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->action, "kept");
  EXPECT_FALSE(plan->new_text.has_value());
  EXPECT_EQ(plan->config.watchdog.interval_ms, 20000);
}

TEST(InitConfigTest, NewDomainIsPatchedAndOtherKeysStay) {
  std::string text = R"({"watchdog": {"intervalMs": 20000}, "caddy": {"httpPort": 8080}})";
  auto plan = plan_init_config(text, std::string("x.test"), kPaths);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->action, "updated");
  ASSERT_TRUE(plan->new_text.has_value());
  nlohmann::json doc = nlohmann::json::parse(*plan->new_text);
  EXPECT_EQ(doc, nlohmann::json::parse(
                     R"({"watchdog": {"intervalMs": 20000},
                         "caddy": {"httpPort": 8080, "domain": "x.test"}})"));
  EXPECT_EQ(plan->config.caddy.http_port, 8080);
}

TEST(InitConfigTest, SameDomainKeepsTheFile) {
  auto plan = plan_init_config(R"({"caddy": {"domain": "x.test"}})", std::string("x.test"), kPaths);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->action, "kept");
}

TEST(InitConfigTest, InvalidFilesAreRefusedWithTheKeyPath) {
  const std::pair<const char*, const char*> kCases[] = {
      {"{not json", "not valid JSON"},
      {R"({"caddy": {"domian": "x"}})", "caddy.domian: unknown key"},
      {R"({"watchdog": {"intervalMs": "fast"}})", "watchdog.intervalMs"},
      {R"({"firecracker": {"defaultVcpuCount": 99}})", "firecracker.defaultVcpuCount"},
  };
  for (const auto& [text, expected] : kCases) {
    auto plan = plan_init_config(std::string(text), std::string("x.test"), kPaths);
    ASSERT_THAT(plan, HasError(ErrorCode::kConfigInvalid)) << text;
    EXPECT_THAT(plan.error().message, HasSubstr(expected));
    EXPECT_THAT(plan.error().message, HasSubstr(kPaths.config_file()));
  }
}

TEST(InitConfigTest, DomainValidation) {
  EXPECT_THAT(validate_domain("lobster.localhost"), IsOk());
  EXPECT_THAT(validate_domain("a-1.b"), IsOk());
  for (const char* bad : {"", "UPPER.case", "a..b", "-a.b", "a_b.c", "a b", ".a"}) {
    EXPECT_THAT(validate_domain(bad), HasError(ErrorCode::kValidationFailed)) << bad;
  }
  EXPECT_THAT(plan_init_config(std::nullopt, std::string("bad_domain"), kPaths),
              HasError(ErrorCode::kValidationFailed));
}

}  // namespace
}  // namespace lobster::cli
