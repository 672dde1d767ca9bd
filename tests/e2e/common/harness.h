// Harness for end-to-end tests that drive the real `lobsterd` binary against a private state
// root: run CLI commands, host commands, curl through the daemon's Caddy, wait for conditions.
// Used by tests/e2e/tenant and tests/e2e/crash; needs root and a private network namespace.
//
//   ASSERT_TRUE(e2e::enter_private_netns());
//   e2e::StateRoot root("/tmp/lc" + std::to_string(::getpid()));
//   ASSERT_TRUE(root.create(e2e::minimal_config()));
//   ASSERT_EQ(root.cli({"image", "build", "--profile", "minimal"}, 900'000).exit, 0);
//   ASSERT_EQ(root.cli({"init", "-y"}).exit, 0);
//   EXPECT_TRUE(e2e::eventually([&] { return root.healthy("t1"); }, 30'000));
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::e2e {

struct CmdResult {
  int exit = -1;  // -1: could not run or timed out
  std::string out, err;
};

// CI=true is set: a missing capability is a failure there, not a skip.
bool in_ci();

// In a test body or SetUp() (gtest included first): without root the test fails under CI=true
// and is skipped elsewhere.
#define LOBSTER_E2E_REQUIRE_ROOT()  \
  do {                              \
    if (::geteuid() != 0) {         \
      if (::lobster::e2e::in_ci())  \
        FAIL() << "needs root";     \
      GTEST_SKIP() << "needs root"; \
    }                               \
  } while (false)
// The lobsterd binary of this build tree ($LOBSTER_BINARY_DIR/src/daemon/lobsterd).
std::string lobsterd_binary();
process::ProcessRunner& runner();

// Runs a host command; `env` entries are added to this process's environment.
CmdResult sh(const std::vector<std::string>& argv, int64_t timeout_ms = 30'000,
             const std::map<std::string, std::string>& env = {});

// Polls `pred` every `step_ms` until it holds or `max_ms` passed (bounded).
bool eventually(const std::function<bool()>& pred, int max_ms, int step_ms = 250);

// unshare(CLONE_NEWNET) for this whole process, then brings lo up. TAPs and iptables rules
// the daemon makes die with the namespace when the test process exits.
Status enter_private_netns();

// Config for fast tests: qemu driver, minimal profile, 1 vCPU, 256 MiB, 512 MiB overlay.
nlohmann::json minimal_config();

class StateRoot;
// The usual suite start (SetUpTestSuite): this process enters a private network namespace,
// `root` gets minimal_config() with `overrides` merged in (JSON merge patch, e.g.
// {"watchdog": {"enabled": false}}), the minimal image is built and `init -y` starts the
// daemon. The error names the step and carries the command's output.
Status start_minimal_suite(const StateRoot& root,
                           const nlohmann::json& overrides = nlohmann::json::object());

// pid read from a pid file (0 if missing or unparsable).
pid_t read_pid_file(const std::string& path);

// One lobsterd state root (keep it short: Unix socket paths live below it).
class StateRoot {
 public:
  explicit StateRoot(std::string root) : root_(std::move(root)) {}
  const std::string& path() const { return root_; }

  // Removes any old tree, creates <root>/etc/config.json (0600).
  Status create(const nlohmann::json& config) const;

  // `lobsterd --root <root> args...`; `env` entries are added to the environment.
  CmdResult cli(const std::vector<std::string>& args, int64_t timeout_ms = 600'000,
                const std::map<std::string, std::string>& env = {}) const;

  // Starts a detached daemon (`lobsterd daemon`); returns its pid, 0 on failure (`why` set).
  pid_t start_daemon(const std::map<std::string, std::string>& env = {},
                     std::string* why = nullptr) const;
  pid_t daemon_pid() const;
  pid_t caddy_pid() const;
  pid_t ingress_pid() const;

  // Caddy's internal CA certificate (exists once Caddy issued one).
  std::string ca_file() const;
  // curl -i through Caddy to https://<tenant>.lobster.localhost<path> (--resolve to 127.0.0.1).
  std::string curl(const std::string& tenant, const std::string& path,
                   const std::vector<std::string>& extra = {}) const;
  // A WebSocket upgrade request to /ws<query> through Caddy (response head).
  std::string ws_upgrade(const std::string& tenant, const std::string& query) const;
  // /health through Caddy answers the test gateway's {"ok":true}.
  bool healthy(const std::string& tenant) const;
  // `lobsterd token <tenant>` without the trailing newline ("" on failure).
  std::string token_of(const std::string& tenant) const;
  // Names listed by `lobsterd --json tank` (nullopt if the command failed).
  std::optional<std::vector<std::string>> tenant_names() const;

  // For failure messages: the last lines of the daemon log and, when `tenant` is given, of
  // that tenant's guest console (CI output is all that is left of a failed run).
  std::string diagnostics(const std::string& tenant = "") const;

  // Best-effort teardown for TearDownTestSuite: evicts every tenant, uninit, ends the
  // daemon, Caddy and the ingress recorded in the pid files (only those), removes the tree.
  void destroy() const;

 private:
  std::string root_;
};

}  // namespace lobster::e2e
