// `lobsterd status [--json]`: the daemon's state and the host's preflight results.
#include "cli/commands.h"
#include "cli/init_flow.h"

namespace lobster::cli {
namespace {

std::string render(const nlohmann::json& s) {
  std::string out = fmt::format(
      "daemon:    running (pid {}, up {} s, version {})\n"
      "root:      {}\n"
      "socket:    {}\n"
      "log:       {}\n"
      "domain:    {}\n"
      "vmm:       {}\n"
      "tenants:   {}",
      s.value("pid", 0), s.value("uptimeMs", int64_t{0}) / 1000, s.value("version", "?"),
      s.value("root", "?"), s.value("socket", "?"), s.value("log", "?"), s.value("domain", "?"),
      s.value("vmmDriver", "?"), s.value("tenantCount", 0));
  if (s.contains("tenants") && !s["tenants"].empty()) {
    std::string names;
    for (const auto& n : s["tenants"]) names += (names.empty() ? "" : ", ") + n.get<std::string>();
    out += " (" + names + ")";
  }
  out += "\npreflight:\n" + format_preflight(s.value("preflight", nlohmann::json::array()));
  if (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

}  // namespace

void register_status(CommandHost& host) {
  host.add("status", "Show the daemon's state and the host's preflight results",
           [](CliContext& ctx) -> Status {
             nlohmann::json s = LOB_TRY(ctx.client().get("/v1/status"));
             ctx.print(s, render(s));
             return ok();
           });
}

}  // namespace lobster::cli
