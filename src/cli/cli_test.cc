#include "cli/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs.h"
#include "store/testing/temp_dir.h"

namespace lobster::cli {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun run(std::vector<std::string> args, bool interactive = false, const std::string& input = "") {
  args.insert(args.begin(), "lobsterd");
  std::ostringstream out, err;
  std::istringstream in(input);
  CliRun r;
  r.code = run_cli(args, out, err, in, interactive);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(CliTest, VersionAndHelp) {
  CliRun v = run({"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_THAT(v.out, ::testing::MatchesRegex("lobsterd [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  CliRun h = run({"--help"});
  EXPECT_EQ(h.code, 0);
  for (const char* cmd : {"init", "status", "uninit", "daemon", "demo", "--root", "--json"}) {
    EXPECT_THAT(h.out, HasSubstr(cmd));
  }
  CliRun sub = run({"init", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_THAT(sub.out, HasSubstr("--domain"));
}

TEST(CliTest, UsageErrorsExitTwo) {
  CliRun r = run({"init", "--no-such-flag"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("error: "));
  EXPECT_THAT(r.err, HasSubstr("hint: "));
  EXPECT_TRUE(r.out.empty());
  CliRun none = run({});
  EXPECT_EQ(none.code, 2);
  CliRun unknown = run({"frobnicate", "x"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command or argument 'frobnicate'"));
}

TEST(CliTest, UsageErrorsAsJson) {
  CliRun r = run({"--json", "status", "--bogus"});
  EXPECT_EQ(r.code, 2);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["error"]["code"], "VALIDATION_FAILED");
  EXPECT_TRUE(r.err.empty());
}

TEST(CliTest, StatusWithoutDaemonSaysHowToStartIt) {
  store::testing::TempDir tmp;
  CliRun r = run({"--root", tmp.path(), "status"});
  EXPECT_EQ(r.code, 6);
  EXPECT_THAT(r.err, HasSubstr("error: no lobsterd daemon is running"));
  EXPECT_THAT(r.err, HasSubstr("hint: start it with `lobsterd init`"));

  CliRun j = run({"status", "--json", "--root", tmp.path()});  // global flags after the command
  EXPECT_EQ(j.code, 6);
  auto body = nlohmann::json::parse(j.out);
  EXPECT_EQ(body["error"]["code"], "DAEMON_NOT_RUNNING");
  EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr(tmp.path()));
  EXPECT_FALSE(body["error"]["hint"].get<std::string>().empty());
}

TEST(CliTest, RelativeRootIsMadeAbsolute) {
  CliRun r = run({"--json", "--root", "rel/root", "status"});
  std::string cwd = std::filesystem::current_path().string();
  EXPECT_THAT(r.out, HasSubstr(cwd + "/rel/root/run/api.sock"));
}

TEST(CliTest, RootComesFromTheEnvironmentToo) {
  store::testing::TempDir tmp;
  ::setenv("LOBSTERD_ROOT", tmp.path().c_str(), 1);
  CliRun r = run({"--json", "status"});
  ::unsetenv("LOBSTERD_ROOT");
  EXPECT_THAT(r.out, HasSubstr(tmp.path() + "/run/api.sock"));
}

TEST(CliTest, UninitNeedsConfirmationAndTouchesNothingWithout) {
  store::testing::TempDir tmp;
  ASSERT_TRUE(fs::ensure_dir(tmp.path() + "/etc", 0711).has_value());
  CliRun r = run({"--root", tmp.path(), "uninit"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("pass -y"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/etc"));

  CliRun no = run({"--root", tmp.path(), "uninit"}, /*interactive=*/true, "n\n");
  EXPECT_EQ(no.code, 1);
  EXPECT_THAT(no.err, HasSubstr("cancelled"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/etc"));
}

TEST(CliTest, UninitRemovesAnIdleRoot) {
  store::testing::TempDir tmp;
  std::string root = tmp.path() + "/r";
  ASSERT_TRUE(fs::ensure_dir(root + "/etc", 0711).has_value());
  ASSERT_TRUE(fs::ensure_dir(root + "/run", 0755).has_value());
  CliRun r = run({"--root", root, "uninit", "-y"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(root));
}

}  // namespace
}  // namespace lobster::cli
