// Keeps bench/lifecycle from rotting: runs it once (--runs 1) and checks that its JSON parses
// and carries every metric and phase the README documents, with plausible values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "host/process/process.h"

namespace lobster::bench {
namespace {

TEST(LifecycleBenchSmoke, OneRunPrintsEveryMetric) {
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr)  // NOLINT(concurrency-mt-unsafe)
      FAIL() << "needs root";
    GTEST_SKIP() << "needs root";
  }
  const char* dir = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_NE(dir, nullptr) << "run through ctest (sets LOBSTER_BINARY_DIR)";
  process::PosixProcessRunner runner;
  auto r = runner.run({std::string(dir) + "/bench/lifecycle/lifecycle_bench", "--runs", "1"},
                      {.timeout_ms = 1'500'000});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_EQ(r->exit_code, 0) << r->err;
  auto doc = nlohmann::json::parse(r->out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << r->out;

  EXPECT_EQ(doc.value("bench", ""), "lifecycle");
  EXPECT_EQ(doc.value("runs", 0), 1);
  std::string accel = doc["host"].value("accel", "");
  EXPECT_TRUE(accel == "kvm" || accel == "tcg") << accel;
  EXPECT_GT(doc["host"].value("cores", 0), 0);
  EXPECT_TRUE(doc["host"]["loadAvgStart"].is_array());
  EXPECT_GT(doc["setupMs"].value("imageBuild", 0.0), 0.0);
  EXPECT_GT(doc["setupMs"].value("init", 0.0), 0.0);

  const auto& m = doc["metricsMs"];
  for (const char* key : {"spawn", "spawnToHealth", "bootToAgent", "controlPlane", "cliApiOverhead",
                          "suspend", "resume", "resumeToHealth", "resumeControlPlane", "evict",
                          "spawn3Concurrent", "spawn3ConcurrentToHealth"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(m.contains(key)) << m.dump();
    for (const char* stat : {"median", "min", "max"}) EXPECT_TRUE(m[key][stat].is_number());
    EXPECT_EQ(m[key]["samples"].size(), 1u);
  }
  double spawn = m["spawn"]["median"].get<double>();
  double boot = m["bootToAgent"]["median"].get<double>();
  EXPECT_GT(boot, 0.0);
  EXPECT_GT(spawn, boot);
  EXPECT_NEAR(m["controlPlane"]["median"].get<double>(), spawn - boot, 1e-6);
  EXPECT_GE(m["spawnToHealth"]["median"].get<double>(), spawn);
  EXPECT_GT(m["suspend"]["median"].get<double>(), 0.0);
  EXPECT_GT(m["evict"]["median"].get<double>(), 0.0);

  const auto& p = doc["phasesMs"];
  for (const char* phase : {"image", "record", "network", "vm", "agent", "proxy", "activate"})
    EXPECT_TRUE(p["spawn"].contains(phase)) << phase << " in " << p["spawn"].dump();
  for (const char* phase : {"schedules", "snapshot", "stop"})
    EXPECT_TRUE(p["suspend"].contains(phase)) << phase << " in " << p["suspend"].dump();
  for (const char* phase : {"restore", "agent", "clock"})
    EXPECT_TRUE(p["resume"].contains(phase)) << phase << " in " << p["resume"].dump();
}

}  // namespace
}  // namespace lobster::bench
