// jail: starts a long-lived, isolated child process (a VMM) and controls it by pidfd.
//
// spawn() clones the child with CLONE_PIDFD and, by default, new mount and pid namespaces (the
// child is pid 1 of its own namespace), puts it in its own session, lets the caller place it
// (cgroups) while it waits, then execs. It sets no parent-death signal: the child outlives
// the daemon. The uid/gid drop and chroot are done by the VMM itself (QEMU -runas/-chroot,
// Firecracker's jailer), after it opened its files. Used by the VMM drivers.
//
//   auto child = LOB_TRY(jail::spawn({.argv = args, .fds = {{tap.get(), 3}},
//                                     .stdout_fd = log.get(), .stderr_fd = log.get(),
//                                     .before_exec = [&](pid_t pid) {
//                                       return cgroups.add_process("t1", pid); }}));
//   ... jail::kill(child.pidfd.get(), SIGKILL); jail::wait_exit(child.pidfd.get(), 5000);
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::jail {

struct SpawnSpec {
  std::vector<std::string> argv;             // argv[0] is an absolute path
  std::vector<std::string> env;              // "K=V" entries; the environment is replaced
  std::vector<std::pair<int, int>> fds;      // {fd in the parent, fd number in the child}
  int stdout_fd = -1;                        // -1 = /dev/null
  int stderr_fd = -1;                        // -1 = /dev/null
  bool new_namespaces = true;                // CLONE_NEWNS | CLONE_NEWPID
  std::function<Status(pid_t)> before_exec;  // runs in the parent while the child waits
};

struct Spawned {
  pid_t pid = 0;  // in the daemon's pid namespace
  UniqueFd pidfd;
};

// kJailerSetupFailed if the child could not be created or placed (it is killed and reaped
// then), kVmBootFailed if exec fails (the child exits 127).
Result<Spawned> spawn(const SpawnSpec& spec);

// pidfd_open(2). kInvalidState if the process does not exist.
Result<UniqueFd> pidfd_open(pid_t pid);
// pidfd_send_signal(2); an exited process is not an error.
Status kill(int pidfd, int sig);
// True once the process exited (the pidfd is readable).
bool exited(int pidfd);
// Waits up to `timeout_ms` for the process to exit; reaps it if it is our child. Returns
// whether it exited.
bool wait_exit(int pidfd, int64_t timeout_ms);

}  // namespace lobster::jail
