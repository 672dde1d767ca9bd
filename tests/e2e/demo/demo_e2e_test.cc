// The README's main command end to end: `lobsterd demo` on a fresh state root (inside a
// private network namespace) builds the openclaw image, spawns the tenant `demo` running a
// real OpenClaw gateway and prints a curl line; running that line must get an answer from
// the gateway through Caddy. Slow (image build + ~2 min TCG boot), but it runs in CI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "host/process/process.h"

namespace lobster {
namespace {

std::string lobsterd() {
  const char* dir = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  return std::string(dir != nullptr ? dir : ".") + "/src/daemon/lobsterd";
}

TEST(DemoE2e, PrintedCurlLineReachesTheOpenClawGateway) {
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr)
      FAIL() << "needs root";  // NOLINT(concurrency-mt-unsafe)
    GTEST_SKIP() << "needs root";
  }
  process::PosixProcessRunner runner;
  std::string root = "/tmp/ld" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  // The image build downloads Debian and npm packages, so it runs before this process leaves
  // the host's network namespace; demo then finds the image and only verifies it.
  auto build = runner.run({lobsterd(), "--root", root, "image", "build", "--profile", "openclaw"},
                          {.timeout_ms = 30 * 60'000});
  ASSERT_TRUE(build.has_value());
  ASSERT_EQ(build->exit_code, 0) << build->err;
  ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
  ASSERT_TRUE(runner.run_checked({"ip", "link", "set", "lo", "up"}).has_value());
  auto demo =
      runner.run({lobsterd(), "--root", root, "--json", "demo"}, {.timeout_ms = 40 * 60'000});
  ASSERT_TRUE(demo.has_value());
  auto out = nlohmann::json::parse(demo->out, nullptr, false);
  EXPECT_EQ(demo->exit_code, 0) << demo->out << "\n" << demo->err;
  std::string curl = out.is_object() ? out.value("curl", "") : "";
  EXPECT_FALSE(curl.empty()) << demo->out;
  EXPECT_FALSE(out.is_object() && out.value("token", "").empty());
  if (!curl.empty()) {
    // Run exactly the printed line.
    auto r = runner.run({"sh", "-c", curl + " -sS -o /dev/null -w '%{http_code}'"},
                        {.timeout_ms = 60'000});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->out, "200") << r->err;
  }
  // Clean up: evict, stop the daemon and its Caddy, remove the root.
  (void)runner.run({lobsterd(), "--root", root, "evict", "-y", "demo"}, {.timeout_ms = 300'000});
  auto caddy = fs::read_file(root + "/run/caddy.pid");
  (void)runner.run({lobsterd(), "--root", root, "uninit", "-y"}, {.timeout_ms = 120'000});
  if (caddy)
    ::kill(std::atoi(caddy->c_str()), SIGTERM);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace lobster
