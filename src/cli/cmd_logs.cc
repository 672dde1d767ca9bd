// `lobsterd logs NAME [-s gateway|agent|dropbear] [-f]`: the tail of a guest log (via the
// agent). -f keeps polling every 2 s and prints what is new.
#include <chrono>
#include <memory>
#include <thread>

#include "cli/commands.h"

namespace lobster::cli {

void register_logs(CommandHost& host) {
  struct Args {
    std::string name, service = "gateway";
    bool follow = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add("logs", "Show a tenant's guest logs", [a](CliContext& ctx) -> Status {
    std::string target = "/v1/tenants/" + a->name + "/logs?service=" + a->service;
    nlohmann::json r = LOB_TRY(ctx.client().get(target));
    std::string last = r.value("logs", "");
    ctx.print(r, last);
    while (a->follow) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      nlohmann::json next = LOB_TRY(ctx.client().get(target));
      std::string now = next.value("logs", "");
      // The agent returns a bounded tail: print only the part after what we saw last.
      size_t overlap = std::min(last.size(), now.size());
      while (overlap > 0 && now.compare(0, overlap, last, last.size() - overlap, overlap) != 0) {
        --overlap;
      }
      if (overlap < now.size())
        *ctx.out << now.substr(overlap) << std::flush;
      last = now;
    }
    return ok();
  });
  cmd->add_option("name", a->name, "Tenant name")->required();
  cmd->add_option("-s,--service", a->service, "gateway (default), agent or dropbear");
  cmd->add_flag("-f,--follow", a->follow, "Keep printing new log lines");
}

}  // namespace lobster::cli
