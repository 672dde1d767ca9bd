// `lobsterd init [--domain D] [-y]`: prepare the host and start the daemon (cli/init_flow.h).
#include <memory>

#include "cli/commands.h"
#include "cli/init_flow.h"

namespace lobster::cli {

void register_init(CommandHost& host) {
  struct Options {
    std::string domain;
    bool yes = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd =
      host.add("init", "Prepare this host (dirs, config, group, preflight) and start the daemon",
               [opts](CliContext& ctx) -> Status {
                 InitRequest request;
                 if (!opts->domain.empty())
                   request.domain = opts->domain;
                 nlohmann::json summary = LOB_TRY(init_host(ctx, request));
                 ctx.print(summary, "Host initialized. Check it with `lobsterd status`.");
                 return ok();
               });
  cmd->add_option("-d,--domain", opts->domain,
                  "Domain for tenant routes (<name>.<domain>); persisted in the config");
  // init only adds what is missing and never deletes, so it needs no confirmation; -y is
  // accepted for compatibility with the original's non-interactive mode.
  cmd->add_flag("-y,--yes", opts->yes, "Non-interactive (init never prompts)");
}

}  // namespace lobster::cli
