// RawGuest: boots a built image with plain QEMU microvm (not through lobsterd's VMM driver) on
// a TAP in the caller's private network namespace, so the image and guest suites test the guest
// on its own: keys and config disk made here, the guest's SSH host key pinned, serial log kept.
//
//   ASSERT_THAT(e2e::enter_private_netns(), IsOk());
//   e2e::RawGuest vm({.dir = root, .tap = "lobimg0", .hostname = "t1", .agent_token = tok});
//   ASSERT_THAT(vm.prepare(runner), IsOk());
//   ASSERT_THAT(vm.start(built->dir), IsOk());
//   vm.wait_for_serial("lobster-init: ready", 180'000);
//   auto r = vm.ssh(runner, "hostname");
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::e2e {

class RawGuest {
 public:
  static constexpr const char* kHostIp = "10.0.0.5";
  static constexpr const char* kGuestIp = "10.0.0.6";

  struct Options {
    std::string dir;  // existing working directory: keys, disks and logs go here
    std::string tap;  // TAP to create, e.g. "lobimg0"
    std::string hostname;
    std::string agent_token;
    std::string gateway_token = "raw-guest-gateway-token";
    uint64_t overlay_mib = 256;
    std::string extra_cmdline;  // appended to the kernel command line, e.g. " loglevel=6"
  };

  explicit RawGuest(Options o) : o_(std::move(o)) {}
  RawGuest(const RawGuest&) = delete;
  RawGuest& operator=(const RawGuest&) = delete;
  ~RawGuest() { kill(); }

  // Overlay, guest host key + client key, config disk, known_hosts pinning the host key, and
  // the TAP up with the host address.
  Status prepare(process::ProcessRunner& runner);
  // Forks QEMU with the image in `image_dir` (its output goes to dir/qemu.log, the guest's
  // serial console to dir/serial.log).
  Status start(const std::string& image_dir);
  // SIGKILLs and reaps QEMU if it runs.
  void kill();

  pid_t pid() const { return pid_; }
  std::string serial() const;
  // Waits (bounded) until the serial log contains `marker`; stops early on a FATAL line or a
  // dead QEMU. Returns the log.
  std::string wait_for_serial(const std::string& marker, int64_t timeout_ms);
  // `ssh root@guest command` with the client key and the pinned host key.
  Result<process::RunResult> ssh(process::ProcessRunner& runner, const std::string& command,
                                 int64_t timeout_ms = 120'000) const;

 private:
  Options o_;
  pid_t pid_ = -1;
};

// One request line to the guest agent at ip:port; the whole reply, read until the agent
// closes or `timeout_ms` (connect included) ends ("" if unreachable).
std::string agent_request(const std::string& ip, int port, const std::string& line,
                          int64_t timeout_ms = 10'000);

// Kernel arguments that keep a TCG guest's clock on the host TSC, as the qemu VMM driver adds
// them (" tsc_early_khz=N tsc=reliable"), or "" when the host TSC is not invariant.
std::string tcg_clock_cmdline();

}  // namespace lobster::e2e
