// systemd integration for `lobsterd init`: where systemd is PID 1 (/run/systemd/system exists)
// the daemon runs as a unit instead of detaching itself. KillMode=process: stopping the unit
// stops the daemon only; tenant VMMs outlive it (DESIGN.md "VMM processes outlive the daemon").
//
//   if (systemd_is_init()) LOB_TRY(install_unit(runner, paths, self_exe));
#pragma once

#include <string>

#include "core/error.h"
#include "core/paths.h"
#include "host/process/process.h"

namespace lobster::daemon {

bool systemd_is_init(const std::string& run_dir = "/run");

// "lobsterd.service" for the system layout, "lobsterd-<hash of root>.service" for a custom
// root, so two roots get two units.
std::string unit_name(const Paths& paths);

// The unit file's text (pure; unit-tested).
std::string unit_text(const Paths& paths, const std::string& binary);

// Writes the unit (0644) into unit_dir, then `systemctl daemon-reload` and
// `systemctl enable --now`. Idempotent. Errors: kIoFailed, kExecFailed.
Status install_unit(process::ProcessRunner& runner, const Paths& paths, const std::string& binary,
                    const std::string& unit_dir = "/etc/systemd/system");

// `systemctl disable --now` and removes the unit file; missing unit is fine.
Status remove_unit(process::ProcessRunner& runner, const Paths& paths,
                   const std::string& unit_dir = "/etc/systemd/system");

// The running binary's path (/proc/self/exe).
Result<std::string> self_executable();

}  // namespace lobster::daemon
