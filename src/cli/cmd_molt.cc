// `lobsterd molt [NAME]`: check one tenant (a suspended one is resumed first) or every active
// tenant, repair what failed and check again (spec §6.9). Prints progress while it runs, then
// the results; --json prints the daemon's MoltResult (or {healthy, results} for all tenants).
// Exits 0 iff every tenant ends healthy, else 1.
#include <memory>

#include "cli/commands.h"

namespace lobster::cli {
namespace {

std::string render(const nlohmann::json& r) {
  std::string name = r.value("tenant", "?");
  bool healthy = r.value("healthy", false);
  std::string out = fmt::format("{} {}", healthy ? "●" : "✗", name);
  if (r.contains("error")) {
    return out + fmt::format("\n    error: {}", r["error"].value("message", ""));
  }
  if (r.value("resumed", false))
    out += "\n    (resumed from suspension first)";
  const nlohmann::json& repairs = r.contains("repairs") ? r["repairs"] : nlohmann::json::array();
  if (healthy && repairs.empty())
    return out + "  Already healthy — no repairs needed";
  for (const auto& c : r.value("initialChecks", nlohmann::json::array())) {
    if (c.value("status", "") != "ok") {
      out += fmt::format("\n    failed check {}: {}", c.value("check", ""), c.value("message", ""));
    }
  }
  for (const auto& x : repairs) {
    out += fmt::format("\n  ↳ {}: {}", x.value("fixed", false) ? "fixed" : "failed",
                       x.value("repair", ""));
    for (const auto& a : x.value("actions", nlohmann::json::array())) {
      out += "\n      " + a.get<std::string>();
    }
  }
  for (const auto& c : r.value("finalChecks", nlohmann::json::array())) {
    if (c.value("status", "") != "ok") {
      out +=
          fmt::format("\n    still failing {}: {}", c.value("check", ""), c.value("message", ""));
    }
  }
  out += healthy ? "\n    Healthy" : "\n    Still degraded";
  return out;
}

}  // namespace

void register_molt(CommandHost& host) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = host.add(
      "molt", "Check tenants and repair what is broken (one tenant, or every active one)",
      [name](CliContext& ctx) -> Status {
        // A VM restart under TCG can take minutes.
        api::ApiClient client = ctx.client(30 * 60 * 1000);
        nlohmann::json reply;
        std::vector<nlohmann::json> results;
        if (!name->empty()) {
          ctx.progress("Molting tenant \"" + *name + "\"...");
          reply = LOB_TRY(with_progress(
              ctx, *name, [&] { return client.post("/v1/tenants/" + *name + "/molt", nullptr); }));
          results.push_back(reply);
        } else {
          ctx.progress("Molting all tenants...");
          reply = LOB_TRY(client.post("/v1/molt", nullptr));
          for (const auto& r : reply.value("results", nlohmann::json::array())) {
            results.push_back(r);
          }
        }
        bool healthy = true;
        std::string human = "🦞 Molt Results";
        for (const auto& r : results) {
          healthy = healthy && r.value("healthy", false);
          human += "\n" + render(r);
        }
        if (results.empty())
          human += "\nNo active tenants.";
        ctx.print(reply, human);
        ctx.exit_code = healthy ? 0 : 1;
        return ok();
      });
  cmd->add_option("name", *name, "Tenant name (default: every active tenant)");
}

}  // namespace lobster::cli
