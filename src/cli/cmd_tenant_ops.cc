// Small tenant commands that are one API call each: evict, suspend, resume, token, tank.
#include <memory>

#include "cli/commands.h"

namespace lobster::cli {

namespace {

// Adds `lobsterd <verb> NAME` that POSTs/DELETEs one path and prints `done`.
void add_simple(CommandHost& host, const std::string& verb, const std::string& help,
                const std::string& method, const std::string& suffix, const std::string& done) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = host.add(verb, help, [=](CliContext& ctx) -> Status {
    api::ApiClient client = ctx.client(10 * 60 * 1000);
    nlohmann::json r = LOB_TRY(with_progress(
        ctx, *name, [&] { return client.call(method, "/v1/tenants/" + *name + suffix, nullptr); }));
    std::string line = fmt::format("Tenant \"{}\" {}.", *name, done);
    if (r.contains("nextWakeAtMs") && !r["nextWakeAtMs"].is_null()) {
      line += fmt::format("\n  Next wake: {} ms since epoch", r["nextWakeAtMs"].get<int64_t>());
    }
    ctx.print(r, line);
    return ok();
  });
  cmd->add_option("name", *name, "Tenant name")->required();
}

}  // namespace

void register_tenant_ops(CommandHost& host) {
  {
    auto name = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    CLI::App* cmd = host.add(
        "evict", "Destroy a tenant: VM, disk, keys, network, route",
        [name, yes](CliContext& ctx) -> Status {
          if (!*yes) {
            bool go = LOB_TRY(ctx.confirm(
                fmt::format("Remove tenant \"{}\"? This destroys the VM and all data.", *name),
                "-y"));
            if (!go)
              return make_error(ErrorCode::kValidationFailed, "evict cancelled");
          }
          api::ApiClient client = ctx.client(10 * 60 * 1000);
          nlohmann::json r = LOB_TRY(with_progress(
              ctx, *name, [&] { return client.call("DELETE", "/v1/tenants/" + *name, nullptr); }));
          ctx.print(r, fmt::format("Tenant \"{}\" evicted.", *name));
          return ok();
        });
    cmd->add_option("name", *name, "Tenant name")->required();
    cmd->add_flag("-y,--yes", *yes, "Do not ask for confirmation");
  }
  add_simple(host, "suspend", "Snapshot a tenant's VM to disk and free its memory", "POST",
             "/suspend", "suspended");
  add_simple(host, "resume", "Restore a suspended tenant from its snapshot", "POST", "/resume",
             "resumed");
  {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd =
        host.add("token", "Print a tenant's gateway token", [name](CliContext& ctx) -> Status {
          nlohmann::json r = LOB_TRY(ctx.client().get("/v1/tenants/" + *name + "/token"));
          ctx.print(r, r.value("token", ""));
          return ok();
        });
    cmd->add_option("name", *name, "Tenant name")->required();
  }
  host.add("tank", "List tenants with their health (use --json for data)",
           [](CliContext& ctx) -> Status {
             nlohmann::json r = LOB_TRY(ctx.client(120'000).get("/v1/tenants"));
             std::string table = fmt::format("{:<24} {:<12} {:<16} {:<10} {:<8} {}\n", "TENANT",
                                             "STATUS", "IP", "PID", "MEM", "STATE");
             for (const auto& e : r) {
               std::string mem = e.contains("memoryMb")
                                     ? std::to_string(e["memoryMb"].get<int64_t>()) + "M"
                                     : std::string("-");
               table += fmt::format("{:<24} {:<12} {:<16} {:<10} {:<8} {}\n", e.value("name", ""),
                                    e.value("status", ""), e.value("ip", ""), e.value("vmPid", ""),
                                    mem, e.value("state", ""));
             }
             if (r.empty())
               table = "No tenants. Create one with: lobsterd spawn <name>\n";
             table.pop_back();
             ctx.print(r, table);
             return ok();
           });
}

}  // namespace lobster::cli
