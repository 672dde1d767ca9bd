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

// Sets the clock to host_time_ms if the current clock is older (RTC missing or behind).
void set_clock_floor(int64_t host_time_ms, const std::function<void(const std::string&)>& note);

// Reaps every exited child; calls on_exit(pid, status) for each.
void reap_children(const std::function<void(pid_t, int)>& on_exit);

// sync, unmount what can be unmounted, power off (never returns when PID 1; returns otherwise).
void power_off(const std::function<void(const std::string&)>& note);

}  // namespace lobster::guest
