// `lobsterd daemon [--foreground]`: run the daemon for this state root.
#include <memory>

#include "cli/commands.h"
#include "daemon/daemon.h"
#include "daemon/pid_file.h"
#include "ingress/run.h"

namespace lobster::cli {

void register_daemon(CommandHost& host) {
  auto foreground = std::make_shared<bool>(false);
  CLI::App* cmd = host.add("daemon", "Run the lobsterd daemon (detaches unless --foreground)",
                           [foreground](CliContext& ctx) -> Status {
                             Paths paths = ctx.paths();
                             if (*foreground) {
                               return daemon::run_foreground(paths, {.log_to_stderr = !ctx.json});
                             }
                             pid_t pid = LOB_TRY(daemon::start_detached(paths));
                             ctx.print({{"pid", pid}, {"socket", paths.api_socket()}},
                                       fmt::format("lobsterd daemon started (pid {}, socket {})",
                                                   pid, paths.api_socket()));
                             return ok();
                           });
  cmd->add_flag("-f,--foreground", *foreground,
                "Stay in the foreground and mirror the log to stderr (for supervisors)");
  cmd->footer(
      "Test-only: LOBSTERD_TEST_FAIL_STEP=<spawn step> in the daemon's environment makes every\n"
      "spawn fail right after that step (crash-safety tests). Never set it in production.");
}

void register_ingress(CommandHost& host) {
  host.add("ingress",
           "Run the ingress router in the foreground (the daemon starts and supervises it)",
           [](CliContext& ctx) -> Status {
             Paths paths = ctx.paths();
             // One ingress per root: the lock is held for the process's life, so an ingress
             // started by a daemon that died before recording it is found, not duplicated.
             auto lock = LOB_TRY(daemon::PidFile::acquire(paths.ingress_pid_file()));
             return ingress::run_ingress(paths);
           });
}

}  // namespace lobster::cli
