// FakeVmmDriver: an in-memory VMM for tenant-layer unit tests. "Processes" are entries in a
// shared table keyed by a fake pid; stop() removes them, so tests check residue as state.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "core/fs.h"
#include "vmm/vmm.h"

namespace lobster::vmm::testing {

class FakeVmmDriver final : public VmmDriver {
 public:
  struct Entry {
    VmSpec spec;
    VmState state = VmState::kRunning;
  };

  std::string_view name() const override { return "qemu"; }

  Result<std::unique_ptr<Vm>> start(const VmSpec& spec) override {
    std::lock_guard lock(mu_);
    if (fail_start)
      return make_error(ErrorCode::kVmBootFailed, "fake: boot refused");
    if (!console_output.empty())
      LOB_TRY(fs::write_file_atomic(spec.console_log_path, console_output));
    pid_t pid = next_pid_++;
    ++starts;
    if (exit_during_boot > 0) {
      // A guest that dies while booting: its VMM is gone by the time anyone looks.
      --exit_during_boot;
      return std::unique_ptr<Vm>(new FakeVm(this, {pid, static_cast<uint64_t>(pid) * 10, exe}));
    }
    vms_[pid] = {spec, VmState::kRunning};
    return std::unique_ptr<Vm>(new FakeVm(this, {pid, static_cast<uint64_t>(pid) * 10, exe}));
  }
  Result<std::unique_ptr<Vm>> restore(const std::string& dir, const VmSpec& spec) override {
    (void)dir;
    return start(spec);
  }
  Result<std::unique_ptr<Vm>> attach(const VmSpec& spec, const ProcessIdentity& id) override {
    (void)spec;
    std::lock_guard lock(mu_);
    if (!vms_.contains(id.pid) || id.start_time != static_cast<uint64_t>(id.pid) * 10) {
      return make_error(ErrorCode::kInvalidState, "fake: pid {} is not our VMM", id.pid);
    }
    return std::unique_ptr<Vm>(new FakeVm(this, id));
  }

  size_t running() const {
    std::lock_guard lock(mu_);
    return vms_.size();
  }
  std::map<pid_t, Entry> vms() const {
    std::lock_guard lock(mu_);
    return vms_;
  }

  bool fail_start = false;
  std::string console_output;  // written to the spec's console log on start, when set
  int exit_during_boot = 0;    // this many next starts give a VMM that exits at once
  int starts = 0;
  std::string exe = "/usr/bin/qemu-system-x86_64";

 private:
  class FakeVm final : public Vm {
   public:
    FakeVm(FakeVmmDriver* d, ProcessIdentity id) : d_(d), id_(std::move(id)) {}
    const ProcessIdentity& identity() const override { return id_; }
    Status pause() override { return set(VmState::kPaused); }
    Status resume() override { return set(VmState::kRunning); }
    Status snapshot(const std::string& dir) override {
      (void)dir;
      return set(VmState::kPaused);
    }
    Status stop(int64_t graceful_timeout_ms) override {
      (void)graceful_timeout_ms;
      std::lock_guard lock(d_->mu_);
      d_->vms_.erase(id_.pid);
      return ok();
    }
    Result<VmState> state() override {
      std::lock_guard lock(d_->mu_);
      auto it = d_->vms_.find(id_.pid);
      return it == d_->vms_.end() ? VmState::kExited : it->second.state;
    }
    Result<VmStats> stats() override { return VmStats{}; }

   private:
    Status set(VmState s) {
      std::lock_guard lock(d_->mu_);
      auto it = d_->vms_.find(id_.pid);
      if (it == d_->vms_.end())
        return make_error(ErrorCode::kInvalidState, "fake: VM exited");
      it->second.state = s;
      return ok();
    }
    FakeVmmDriver* d_;
    ProcessIdentity id_;
  };

  mutable std::mutex mu_;
  std::map<pid_t, Entry> vms_;
  pid_t next_pid_ = 40000;
};

}  // namespace lobster::vmm::testing
