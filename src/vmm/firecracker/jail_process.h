// Process plumbing for the jailer/Firecracker process: spawn in its own session with a pidfd,
// poll/signal/reap through the pidfd only (never by name or bare pid, spec §16 items 8, 9),
// and read log tails for error details.
//
//   auto child = LOB_TRY(spawn_session(argv, {.stdout_path = console, .stderr_path = log}));
//   if (auto st = exit_status(child.pidfd.get())) ...;   // exited (and reaped if ours)
//   LOB_TRY(kill_and_wait(child.pidfd.get(), 5000));
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::vmm::firecracker {

struct SpawnOptions {
  std::string stdout_path;  // appended (created 0600); "" = /dev/null
  std::string stderr_path;  // appended (created 0600); "" = /dev/null
};

struct SpawnedProcess {
  pid_t pid = 0;
  UniqueFd pidfd;
};

// posix_spawn with POSIX_SPAWN_SETSID (own session: no terminal signals, survives the daemon),
// stdin from /dev/null, a clean environment. kExecFailed if it cannot start.
Result<SpawnedProcess> spawn_session(const std::vector<std::string>& argv,
                                     const SpawnOptions& options);

// pidfd_open(pid). kInvalidState if the process does not exist.
Result<UniqueFd> open_pidfd(pid_t pid);

// True once the process behind `pidfd` has exited (the pidfd polls readable).
bool has_exited(int pidfd);

// How a process ended, for messages: "exit status 3", "killed by signal 9", or "exited (status
// unknown: not our child)". Reaps the process if it is our child. nullopt while it runs.
std::optional<std::string> exit_description(int pidfd);

// Waits until the process exits or `timeout_ms` passes (poll on the pidfd). True if it exited.
bool wait_exit(int pidfd, int64_t timeout_ms);

// SIGKILL through the pidfd, then waits up to `timeout_ms` for the exit and reaps it if ours.
// kVmmFailed if the signal cannot be sent or the process survives the wait.
Status kill_and_wait(int pidfd, int64_t timeout_ms);

// The last `max_bytes` of a file, trimmed to whole lines; "" if unreadable.
std::string tail_file(const std::string& path, size_t max_bytes = 2048);

}  // namespace lobster::vmm::firecracker
