// cgroup: per-VM resource limits (memory, cpu quota, pids) on cgroup v2 or on a v1 / hybrid
// host (controllers mounted separately at <root>/{memory,cpu,pids}).
//
// Every cgroup lives under a parent named after the lobsterd state root
// (`lobsterd-<hash>/<name>`), so two daemons with different roots, and tests, never collide.
// The cgroupfs root is injected: unit tests point it at a temporary directory.
// The VMM drivers call it; the daemon builds one FsCgroups at start.
//
//   auto cg = LOB_TRY(FsCgroups::create("/sys/fs/cgroup", parent_name_for(paths.root)));
//   LOB_TRY(cg->ensure("t1", {.memory_bytes = 1207959552, .cpu_quota_us = 200000,
//                             .cpu_period_us = 100000, .pids_max = 64}));
//   LOB_TRY(cg->add_process("t1", pid));   // before the child execs
//   LOB_TRY(cg->remove("t1", 5000));      // kills what is left IN the cgroup, then rmdir
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lobster::cgroup {

struct Limits {
  int64_t memory_bytes = 0;        // 0 = unlimited
  int64_t cpu_quota_us = 0;        // 0 = unlimited
  int64_t cpu_period_us = 100000;  // period for the quota
  int64_t pids_max = 0;            // 0 = unlimited
  bool operator==(const Limits&) const = default;
};

enum class Layout { kV2, kV1 };

class Cgroups {
 public:
  virtual ~Cgroups() = default;

  virtual Layout layout() const = 0;
  // Creates the cgroup `name` (in every hierarchy on v1) and writes `limits`. Idempotent: an
  // existing cgroup gets the new limits. kCgroupFailed, kValidationFailed for a bad name.
  virtual Status ensure(const std::string& name, const Limits& limits) = 0;
  // Moves `pid` into the cgroup (every hierarchy). kCgroupFailed.
  virtual Status add_process(const std::string& name, pid_t pid) = 0;
  // Pids in the cgroup (union over hierarchies, sorted, unique). Missing cgroup -> empty.
  virtual Result<std::vector<pid_t>> pids(const std::string& name) = 0;
  // Limits as read back from the cgroup files. kCgroupFailed if missing.
  virtual Result<Limits> read_limits(const std::string& name) = 0;
  // SIGKILLs the processes found IN the cgroup (nothing else), waits up to `timeout_ms` for it
  // to be empty, then removes it. Missing cgroup is success. kCgroupFailed / kExecTimeout.
  virtual Status remove(const std::string& name, int64_t timeout_ms) = 0;
  // Directories of the cgroup (one on v2, one per controller on v1), for diagnostics/tests.
  virtual std::vector<std::string> dirs(const std::string& name) const = 0;
};

// The parent cgroup name for a lobsterd state root: "lobsterd" for the system layout (empty
// root), else "lobsterd-<8 hex digits of FNV-1a(root)>". Both VMM drivers use it.
std::string parent_name_for(const std::string& state_root);

// How many processes the kernel's OOM killer killed in the cgroup `name` since it was made:
// "oom_kill" of memory.events (v2) or memory.oom_control (v1, kernel >= 4.13). A missing
// cgroup or file counts 0 (nothing proves an OOM kill). Used to name the cause of a VMM's death.
int64_t oom_kill_count(const Cgroups& cgroups, const std::string& name);

// Pure: the "oom_kill N" value of memory.events / memory.oom_control text (0 if absent).
int64_t parse_oom_kill(std::string_view events);

// cgroupfs implementation. create() detects the layout below `root`: v2 when
// <root>/cgroup.controllers exists, v1 when <root>/memory, <root>/cpu and <root>/pids exist;
// else kPreflightFailed.
class FsCgroups final : public Cgroups {
 public:
  static Result<std::unique_ptr<FsCgroups>> create(std::string root, std::string parent);

  Layout layout() const override { return layout_; }
  Status ensure(const std::string& name, const Limits& limits) override;
  Status add_process(const std::string& name, pid_t pid) override;
  Result<std::vector<pid_t>> pids(const std::string& name) override;
  Result<Limits> read_limits(const std::string& name) override;
  Status remove(const std::string& name, int64_t timeout_ms) override;
  std::vector<std::string> dirs(const std::string& name) const override;
  // Removes the (empty) parent cgroup itself, in every hierarchy: `uninit` leaves nothing.
  // Missing is success; kCgroupFailed if a tenant's cgroup is still below it.
  Status remove_parent();

 private:
  FsCgroups(std::string root, std::string parent, Layout layout)
      : root_(std::move(root)), parent_(std::move(parent)), layout_(layout) {}
  Status ensure_v2_parent();
  std::string dir_for(const std::string& controller, const std::string& name) const;

  std::string root_;
  std::string parent_;
  Layout layout_;
};

}  // namespace lobster::cgroup
