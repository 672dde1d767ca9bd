// `lobsterd spawn NAME [--profile P] [--vcpus N] [--mem MiB] [--no-wait]`: create a tenant. The
// daemon does the work; while the request runs, a second connection polls the tenant's progress
// line so the operator sees each step on stderr. An openclaw tenant's gateway needs minutes
// after its VM is up under TCG: spawn then waits until it answers through Caddy (or says why
// not), unless --no-wait.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/gateway_wait.h"

namespace lobster::cli {

// Runs `call` while printing the tenant's progress lines (deduplicated) on stderr.
Result<nlohmann::json> with_progress(const CliContext& ctx, const std::string& name,
                                     const std::function<Result<nlohmann::json>()>& call) {
  std::atomic<bool> done{false};
  std::thread poller([&] {
    std::string last;
    api::ApiClient client = ctx.client(5'000);
    while (!done) {
      for (int i = 0; i < 10 && !done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (done)
        break;
      auto t = client.get("/v1/tenants/" + name);
      if (t && t->contains("progress")) {
        std::string line = (*t)["progress"].get<std::string>();
        if (line != last) {
          ctx.progress("  " + line);
          last = line;
        }
      }
    }
  });
  auto result = call();
  done = true;
  poller.join();
  return result;
}

namespace {

// An openclaw gateway under TCG answers ~2-5 min after its VM; far longer on a loaded host.
constexpr int kSpawnWaitMinutes = 20;

}  // namespace

void register_spawn(CommandHost& host) {
  struct Args {
    std::string name, profile;
    int64_t vcpus = 0, mem = 0;
    bool no_wait = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(
      "spawn", "Create a tenant: microVM, network, disk, HTTPS route",
      [a](CliContext& ctx) -> Status {
        nlohmann::json body = {{"name", a->name}};
        if (!a->profile.empty())
          body["profile"] = a->profile;
        if (a->vcpus > 0)
          body["vcpus"] = a->vcpus;
        if (a->mem > 0)
          body["memMb"] = a->mem;
        ctx.progress("Spawning tenant \"" + a->name + "\"...");
        // A cold openclaw boot under TCG takes minutes: wait long, show progress meanwhile.
        api::ApiClient client = ctx.client(30 * 60 * 1000);
        nlohmann::json t =
            LOB_TRY(with_progress(ctx, a->name, [&] { return client.post("/v1/tenants", body); }));
        if (!a->no_wait && t.value("profile", "") == "openclaw") {
          ctx.progress(
              "  waiting for the OpenClaw gateway to answer through Caddy (minutes under "
              "software emulation; --no-wait returns now)");
          GatewayRoute route = LOB_TRY(gateway_route(ctx, a->name));
          t["gatewayReadyAfterS"] =
              LOB_TRY(wait_for_gateway(ctx, a->name, route, kSpawnWaitMinutes));
          ctx.progress(
              fmt::format("  gateway answered after {} s", t["gatewayReadyAfterS"].get<int64_t>()));
        }
        ctx.print(
            t, fmt::format("Tenant \"{}\" spawned.\n  URL:  {}\n  IP:   {}\n  PID:  {}\n"
                           "  Token: lobsterd token {}",
                           a->name, t.value("url", ""), t.value("ip", ""),
                           t["vmPid"].is_null() ? std::string("-") : t["vmPid"].dump(), a->name));
        return ok();
      });
  cmd->add_option("name", a->name, "Tenant name (DNS label: [a-z][a-z0-9-]{0,62})")->required();
  cmd->add_option("--profile", a->profile, "Image profile: openclaw (default) or minimal");
  cmd->add_option("--vcpus", a->vcpus,
                  "vCPUs (default: the profile's, at least firecracker.defaultVcpuCount)");
  cmd->add_option("--mem", a->mem,
                  "Guest memory in MiB (default: the profile's size, at least "
                  "firecracker.defaultMemSizeMb; openclaw: 2048, minimum 1536)");
  cmd->add_flag("--no-wait", a->no_wait,
                "Return once the VM and route are up, without waiting for an openclaw "
                "gateway to answer");
}

}  // namespace lobster::cli
