// The README's main command end to end: `lobsterd demo` on a fresh state root (inside a
// private network namespace) builds the openclaw image, spawns the tenant `demo` running a
// real OpenClaw gateway and prints a curl line; running that line must get an answer from
// the gateway through Caddy. Slow (image build + ~2 min TCG boot), but it runs in CI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e/common/harness.h"

namespace lobster {
namespace {

TEST(DemoE2e, PrintedCurlLineReachesTheOpenClawGateway) {
  LOBSTER_E2E_REQUIRE_ROOT();
  // No config file: demo initializes on defaults.
  e2e::StateRoot root("/tmp/ld" + std::to_string(::getpid()));
  std::filesystem::remove_all(root.path());
  // The image build downloads Debian and npm packages, so it runs before this process leaves
  // the host's network namespace; demo then finds the image and only verifies it.
  e2e::CmdResult build = root.cli({"image", "build", "--profile", "openclaw"}, 30 * 60'000);
  ASSERT_EQ(build.exit, 0) << build.err;
  ASSERT_TRUE(e2e::enter_private_netns().has_value());
  e2e::CmdResult demo = root.cli({"--json", "demo"}, 40 * 60'000);
  auto out = nlohmann::json::parse(demo.out, nullptr, false);
  EXPECT_EQ(demo.exit, 0) << demo.out << "\n" << demo.err;
  std::string curl = out.is_object() ? out.value("curl", "") : "";
  EXPECT_FALSE(curl.empty()) << demo.out;
  EXPECT_FALSE(out.is_object() && out.value("token", "").empty());
  if (!curl.empty()) {
    // Run exactly the printed line.
    e2e::CmdResult r = e2e::sh({"sh", "-c", curl + " -sS -o /dev/null -w '%{http_code}'"});
    EXPECT_EQ(r.out, "200") << r.err;
  }
  if (HasFailure())
    ADD_FAILURE() << root.diagnostics("demo");
  root.destroy();
}

}  // namespace
}  // namespace lobster
