// `lobsterd snap NAME [-o FILE]`      encrypted, crash-consistent export of a tenant's disk
// `lobsterd snap verify FILE [--restore-to PATH]`  decrypt + check (+ restore the disk)
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "cli/commands.h"

namespace lobster::cli {
namespace {

std::string absolute(const std::string& p) {
  return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string();
}

}  // namespace

void register_snap(CommandHost& host) {
  struct Args {
    std::vector<std::string> words;
    std::string out, restore_to;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(
      "snap", "Export a tenant's disk encrypted (snap NAME), or check one (snap verify FILE)",
      [a](CliContext& ctx) -> Status {
        api::ApiClient client = ctx.client(30 * 60 * 1000);
        if (a->words.size() == 2 && a->words[0] == "verify") {
          nlohmann::json body = {{"file", absolute(a->words[1])}};
          if (!a->restore_to.empty())
            body["restoreTo"] = absolute(a->restore_to);
          nlohmann::json r = LOB_TRY(client.post("/v1/snaps/verify", body));
          ctx.print(r, fmt::format("OK: {} is intact (tenant {}, {} bytes, sha256 {}){}",
                                   r.value("path", ""), r.value("tenant", ""),
                                   r.value("sizeBytes", int64_t{0}), r.value("sha256", ""),
                                   r.contains("restoredTo")
                                       ? "\n  restored to " + r["restoredTo"].get<std::string>()
                                       : std::string()));
          return ok();
        }
        if (a->words.size() != 1) {
          return make_error(ErrorCode::kValidationFailed,
                            "usage: lobsterd snap NAME [-o FILE] | lobsterd snap verify FILE");
        }
        nlohmann::json body = nlohmann::json::object();
        if (!a->out.empty())
          body["out"] = absolute(a->out);
        nlohmann::json r = LOB_TRY(client.post("/v1/tenants/" + a->words[0] + "/snap", body));
        ctx.print(r, fmt::format("Snapshot created: {}", r.value("path", "")));
        return ok();
      });
  cmd->add_option("args", a->words, "NAME, or: verify FILE")->required()->expected(1, 2);
  cmd->add_option("-o,--output", a->out, "Where to write the export (default: <data>/snaps/)");
  cmd->add_option("--restore-to", a->restore_to, "With verify: write the decrypted disk here");
}

}  // namespace lobster::cli
