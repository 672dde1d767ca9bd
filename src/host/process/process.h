// ProcessRunner: runs a host command given as an argv (never through a shell) and returns its
// exit status and captured output. It is the only place that executes host commands, so tests
// swap in testing::FakeProcessRunner and compare the argv values exactly.
//
//   PosixProcessRunner runner;
//   auto r = LOB_TRY(runner.run_checked({"iptables-restore", "--noflush"},
//                                       {.stdin_data = rules, .timeout_ms = 10'000}));
//
// Secrets must travel through stdin_data or files, never through argv (visible in /proc).
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::process {

struct RunOptions {
  std::string stdin_data;       // written to the child's stdin, then closed
  int64_t timeout_ms = 30'000;  // SIGKILL after this; result.timed_out = true
  std::optional<std::map<std::string, std::string>> env;  // replaces the environment if set
  std::string cwd;                                        // "" = inherit
  size_t max_output = 16 << 20;                           // per stream; excess is dropped
};

struct RunResult {
  int exit_code = -1;   // exit status, or -1 if killed by a signal
  int term_signal = 0;  // signal number if killed
  bool timed_out = false;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0 && !timed_out; }
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs argv to completion. Errors only if the process could not be started (kExecFailed);
  // a non-zero exit is a normal RunResult.
  virtual Result<RunResult> run(const std::vector<std::string>& argv,
                                const RunOptions& options) = 0;

  // Like run(), but a non-zero exit or timeout is an error: kExecTimeout for a timeout, else
  // kExecFailed with "command failed (exit N): <argv>" and the child's stderr as detail.
  Result<RunResult> run_checked(const std::vector<std::string>& argv,
                                const RunOptions& options = {});
};

// Real implementation: posix_spawn + pipes + pidfd, poll()-driven, no threads.
class PosixProcessRunner final : public ProcessRunner {
 public:
  Result<RunResult> run(const std::vector<std::string>& argv, const RunOptions& options) override;
};

// "a b 'c d'" — for messages and logs only, never for execution.
std::string argv_to_string(const std::vector<std::string>& argv);

// Finds an executable in PATH (or returns `name` if it contains '/' and is executable).
std::optional<std::string> find_executable(const std::string& name);

// True once `pid` no longer runs: gone from /proc, or a zombie its parent has not reaped yet
// (a process that is not our child, e.g. a detached daemon, may be reaped late).
bool process_exited(pid_t pid);

}  // namespace lobster::process
