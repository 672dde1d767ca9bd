// The shared test main: skips are listed with their reasons, and with CI set they fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/fs.h"
#include "core/testing/temp_dir.h"
#include "host/process/process.h"

namespace lobster {
namespace {

using ::testing::HasSubstr;

struct ProbeRun {
  int exit = -1;
  std::string err, log;
};

ProbeRun run_probe(const std::map<std::string, std::string>& extra_env) {
  testing::TempDir dir;
  std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"},
                                            {"LOBSTER_SKIP_LOG", dir.path() + "/skips.tsv"}};
  for (const auto& [k, v] : extra_env) env[k] = v;
  process::PosixProcessRunner runner;
  auto r = runner.run({LOBSTER_SKIP_PROBE}, {.timeout_ms = 60'000, .env = env});
  ProbeRun out;
  if (!r.has_value() || r->timed_out)
    return out;
  out.exit = r->exit_code;
  out.err = r->err;
  out.log = fs::read_file(dir.path() + "/skips.tsv").value_or("");
  return out;
}

TEST(GtestMain, OutsideCiASkipPassesAndIsListedWithItsReason) {
  for (const char* ci : {"", "0", "false"}) {
    SCOPED_TRACE(std::string("CI=") + ci);
    ProbeRun r = run_probe({{"CI", ci}});
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("skipped Probe.CannotRunHere: no such device second line"));
    EXPECT_EQ(r.log, "lobster_skip_probe\tProbe.CannotRunHere\tno such device second line\n");
  }
}

TEST(GtestMain, WithCiSetASkipFailsTheExecutable) {
  for (const char* ci : {"true", "1"}) {
    SCOPED_TRACE(std::string("CI=") + ci);
    ProbeRun r = run_probe({{"CI", ci}});
    EXPECT_EQ(r.exit, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("CI is set, so this run FAILS"));
    EXPECT_THAT(r.err, HasSubstr("skipped Probe.CannotRunHere: no such device"));
    EXPECT_THAT(r.log, HasSubstr("Probe.CannotRunHere"));
  }
}

TEST(GtestMain, WithoutSkipsCiChangesNothing) {
  ProbeRun r = run_probe({{"CI", "true"}, {"GTEST_FILTER", "Probe.Passes"}});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.log, "");
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("skipped")));
}

}  // namespace
}  // namespace lobster
