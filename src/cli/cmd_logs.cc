// `lobsterd logs NAME [-s gateway|agent|dropbear] [-f]`: the tail of a guest log (via the
// agent). -f keeps polling every 2 s and prints what is new.
// `lobsterd logs --daemon [-f] [-n N]`: the daemon's own structured log (one JSON object per
// line: watchdog state changes, repairs, VMM exits, suspends, wakes), read from the state
// root; -f follows it (every 250 ms, from the start again if the file was truncated).
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "core/fs.h"

namespace lobster::cli {
namespace {

Status follow_daemon_log(CliContext& ctx, size_t lines, bool follow) {
  const std::string path = ctx.paths().daemon_log();
  auto tail = fs::read_tail(path, lines, 1 << 20);
  if (!tail) {
    Error e = tail.error();
    e.hint = "the daemon log is readable by root only; is the daemon initialised (lobsterd init)?";
    return make_error(std::move(e));
  }
  *ctx.out << *tail << std::flush;
  struct stat st {};
  off_t offset = ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
  while (follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (::stat(path.c_str(), &st) != 0)
      continue;  // rotated away: wait for the new file
    if (st.st_size < offset)
      offset = 0;  // truncated or replaced
    if (st.st_size == offset)
      continue;
    std::ifstream in(path, std::ios::binary);
    in.seekg(offset);
    std::string chunk(static_cast<size_t>(st.st_size - offset), '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<size_t>(in.gcount()));
    offset += static_cast<off_t>(chunk.size());
    *ctx.out << chunk << std::flush;
  }
  return ok();
}

}  // namespace

void register_logs(CommandHost& host) {
  struct Args {
    std::string name, service = "gateway";
    bool follow = false;
    bool daemon = false;
    size_t lines = 50;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(
      "logs", "Show a tenant's guest logs, or the daemon's", [a](CliContext& ctx) -> Status {
        if (a->daemon) {
          if (!a->name.empty()) {
            return make_error(ErrorCode::kValidationFailed,
                              "give either a tenant name or --daemon, not both");
          }
          return follow_daemon_log(ctx, a->lines, a->follow);
        }
        if (a->name.empty()) {
          Error e{ErrorCode::kValidationFailed, "logs: a tenant name or --daemon is required"};
          e.hint = "lobsterd logs NAME, or lobsterd logs --daemon -f";
          return make_error(std::move(e));
        }
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
          while (overlap > 0 &&
                 now.compare(0, overlap, last, last.size() - overlap, overlap) != 0) {
            --overlap;
          }
          if (overlap < now.size())
            *ctx.out << now.substr(overlap) << std::flush;
          last = now;
        }
        return ok();
      });
  cmd->add_option("name", a->name, "Tenant name");
  cmd->add_option("-s,--service", a->service, "gateway (default), agent or dropbear");
  cmd->add_flag("-f,--follow", a->follow, "Keep printing new log lines");
  cmd->add_flag("--daemon", a->daemon,
                "The daemon's own log (watchdog, repairs, VMM exits, suspends, wakes)");
  cmd->add_option("-n,--lines", a->lines, "With --daemon: how many last lines to show (50)");
}

}  // namespace lobster::cli
