// Helpers for the daemon/CLI end-to-end tests: a short temporary state root per test, running
// the built `lobsterd` binary, and cleanup of the daemon a test started (by pid, never by name).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "daemon/pid_file.h"
#include "host/process/process.h"

namespace lobster::e2e {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const {
    return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  }
};

// Skips (outside CI) or fails (CI=true) when not root: these tests create groups, sockets
// owned by other uids and detached daemons.
inline bool require_root() {
  if (::geteuid() == 0)
    return true;
  const char* ci = ::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    ADD_FAILURE() << "e2e tests need root (CI=true: a missing capability is a failure)";
  }
  return false;
}

// True once `pid` has exited (gone, or a zombie not yet reaped by its new parent).

class E2eRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!require_root())
      GTEST_SKIP() << "needs root";
    char templ[] = "/tmp/lbe-XXXXXX";  // short: the API socket path must stay < 108 bytes
    ASSERT_NE(::mkdtemp(templ), nullptr);
    root_ = templ;
  }

  void TearDown() override {
    if (root_.empty())
      return;
    // Stop a daemon this test started (the pid in our root's lock file), then remove the root.
    auto holder = daemon::PidFile::holder(root_ + "/run/lobsterd.pid");
    if (holder && *holder && **holder > 0) {
      pid_t pid = **holder;
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 200 && !process::process_exited(pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!process::process_exited(pid))
        ::kill(pid, SIGKILL);
    }
    (void)fs::remove_tree(root_);
  }

  CliResult lobsterd(std::vector<std::string> args) {
    args.insert(args.begin(), {LOBSTERD_BINARY, "--root", root_});
    process::PosixProcessRunner runner;
    auto r = runner.run(args, {.timeout_ms = 60'000});
    if (!r) {
      ADD_FAILURE() << r.error().to_string();
      return {};
    }
    return {r->exit_code, r->out, r->err};
  }

  std::string config_file() const { return root_ + "/etc/config.json"; }
  std::string socket() const { return root_ + "/run/api.sock"; }

  std::string root_;
};

}  // namespace lobster::e2e
