// PID 1 duties of lobster-init that touch the kernel directly: early mounts, hostname, clock,
// ctrl-alt-del routing, config-disk discovery, reaping and the final power-off.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "core/error.h"

namespace lobster::guest {

// proc, sys, devtmpfs, devpts, run (tmpfs), tmp (tmpfs); "already mounted" is fine.
void mount_early_filesystems(const std::function<void(const std::string&)>& note);

// Finds the config disk: $LOBSTER_CONFIG_DEV, else the first /dev/vd* starting with the magic.
Result<std::string> find_config_device();

// The kernel command line sets softlockup_panic=1 so that a guest whose kernel livelocks while
// booting panics and its VM exits, and the host boots it again (tenant/boot.h). Once PID 1
// runs the boot is over: a soft lockup of a running tenant (say, a starved vCPU on a busy host)
// must not kill it, so this turns the setting off. Only as PID 1.
void end_boot_lockup_panic(const std::function<void(const std::string&)>& note);

// Sets the clock to host_time_ms if the current clock is older (RTC missing or behind).
void set_clock_floor(int64_t host_time_ms, const std::function<void(const std::string&)>& note);

// Reaps every exited child; calls on_exit(pid, status) for each.
void reap_children(const std::function<void(pid_t, int)>& on_exit);

// sync, unmount what can be unmounted, power off (never returns when PID 1; returns otherwise).
void power_off(const std::function<void(const std::string&)>& note);

}  // namespace lobster::guest
