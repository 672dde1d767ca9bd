// End-to-end: one daemon per root, socket peer authorization, clean SIGTERM (issue 3,
// done-when item 5).
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "api/auth.h"
#include "api/client.h"
#include "daemon/e2e/e2e_util.h"

namespace lobster::e2e {
namespace {

using ::testing::HasSubstr;

class DaemonE2eTest : public E2eRoot {
 protected:
  // Connects to the API as uid/gid `nobody` with the given supplementary groups, in a forked
  // child; returns "<status> <code>" of GET /v1/status.
  std::string status_as_nobody(const std::vector<gid_t>& groups) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(65534) != 0 ||
          ::setuid(65534) != 0) {
        ::_exit(3);
      }
      auto reply = api::ApiClient(socket(), 5000).request("GET", "/v1/status");
      std::string text =
          reply ? fmt::format("{} {}", reply->status,
                              reply->body.is_object() ? reply->body.value("code", "-") : "-")
                : "error " + reply.error().to_string();
      ssize_t n = ::write(fds[1], text.data(), text.size());
      ::_exit(n == static_cast<ssize_t>(text.size()) ? 0 : 4);
    }
    ::close(fds[1]);
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return text;
  }
};

TEST_F(DaemonE2eTest, SecondDaemonOnTheSameRootFails) {
  ASSERT_EQ(lobsterd({"init", "-y"}).code, 0);
  CliResult fg = lobsterd({"daemon", "--foreground"});
  EXPECT_EQ(fg.code, 4);
  EXPECT_THAT(fg.err, HasSubstr("already runs for this root"));
  CliResult detached = lobsterd({"--json", "daemon"});
  EXPECT_EQ(detached.code, 4);
  EXPECT_EQ(detached.json()["error"]["code"], "DAEMON_RUNNING");
  // The first daemon is unharmed.
  EXPECT_EQ(lobsterd({"status"}).code, 0);
}

TEST_F(DaemonE2eTest, DetachedStartReportsTheDaemonsError) {
  ASSERT_TRUE(fs::ensure_dir(root_ + "/etc", 0711).has_value());
  ASSERT_TRUE(
      fs::write_file_atomic(root_ + "/etc/config.json", R"({"vsock": {"agentPort": 0}})", 0600)
          .has_value());
  CliResult r = lobsterd({"--json", "daemon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.json()["error"]["code"], "CONFIG_INVALID");
  EXPECT_THAT(r.json()["error"]["message"].get<std::string>(), HasSubstr("vsock.agentPort"));
  EXPECT_FALSE(fs::exists(socket()));
  EXPECT_THAT(*fs::read_file(root_ + "/log/daemon.log"), HasSubstr("daemon.start_failed"));
}

TEST_F(DaemonE2eTest, PeerOutsideGroupGets403) {
  ASSERT_EQ(lobsterd({"init", "-y"}).code, 0);
  auto group = api::lookup_group(api::kApiGroup);
  ASSERT_TRUE(group.has_value()) << "init creates group lobsterd";
  // Open the file-system fences so the peer-credential check is what decides.
  ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
  // First fence: the 0660 socket itself refuses the connection; the client says why.
  std::string refused = status_as_nobody({});
  EXPECT_THAT(refused, ::testing::StartsWith("error PERMISSION_DENIED"));
  EXPECT_THAT(refused, HasSubstr("group lobsterd"));
  ASSERT_EQ(::chmod(socket().c_str(), 0666), 0);
  EXPECT_EQ(status_as_nobody({}), "403 PERMISSION_DENIED");
  EXPECT_EQ(status_as_nobody({*group}), "200 -");  // a group member is served
}

TEST_F(DaemonE2eTest, SigtermExitsZeroAndRemovesSocketAndPidFile) {
  process::PosixProcessRunner runner;
  ASSERT_EQ(lobsterd({"init", "-y"}).code, 0);
  auto holder = daemon::PidFile::holder(root_ + "/run/lobsterd.pid");
  ASSERT_TRUE(holder && *holder);
  pid_t detached = **holder;
  ASSERT_EQ(::kill(detached, SIGTERM), 0);  // stop the detached one; run our own child below
  for (int i = 0; i < 500 && !process::process_exited(detached); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl(LOBSTERD_BINARY, LOBSTERD_BINARY, "--root", root_.c_str(), "daemon", "--foreground",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool up = false;
  for (int i = 0; i < 1000 && !up; ++i) {
    up = api::ApiClient(socket(), 1000).get("/v1/health").has_value();
    if (!up)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(up) << "daemon did not come up";
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  RecordProperty("sigterm_to_exit_ms", static_cast<int>(ms));
  std::printf("SIGTERM to exit: %lld ms\n", static_cast<long long>(ms));
  EXPECT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(fs::exists(socket()));
  EXPECT_FALSE(fs::exists(root_ + "/run/lobsterd.pid"));
}

}  // namespace
}  // namespace lobster::e2e
