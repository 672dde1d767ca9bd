// `lobsterd demo`: the README's first command. For now: init with defaults (-y semantics),
// then status. FIXME(#7): spawn the `demo` tenant (openclaw profile) and print its URL,
// token and a curl line once tenant spawning lands.
#include "cli/commands.h"
#include "cli/init_flow.h"

namespace lobster::cli {

void register_demo(CommandHost& host) {
  host.add("demo", "Initialize this host with defaults and show its status",
           [](CliContext& ctx) -> Status {
             nlohmann::json init = LOB_TRY(init_host(ctx, InitRequest{}));
             nlohmann::json status = LOB_TRY(ctx.client().get("/v1/status"));
             const char* note =
                 "Tenant spawning is not available in this build yet; once it lands, "
                 "`lobsterd demo` spawns an OpenClaw tenant and prints how to reach it.";
             ctx.print({{"init", init}, {"status", status}, {"note", note}},
                       fmt::format("lobsterd is running (pid {}, domain {}).\n{}",
                                   status.value("pid", 0), status.value("domain", "?"), note));
             return ok();
           });
}

}  // namespace lobster::cli
