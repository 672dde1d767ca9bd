// `lobsterd uninit [-y]`: stop the daemon and remove the state root's directories. Refuses
// (UNINIT_FAILED, naming them) while tenants exist. Binaries and the lobsterd group stay.
#include <memory>

#include "cli/commands.h"
#include "core/fs.h"
#include "daemon/daemon.h"
#include "daemon/front_door.h"
#include "daemon/layout.h"
#include "daemon/pid_file.h"
#include "daemon/systemd.h"
#include "host/cgroup/cgroups.h"
#include "store/sqlite_store.h"

namespace lobster::cli {
namespace {

Status refuse_if_tenants(const std::vector<std::string>& names) {
  if (names.empty())
    return ok();
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  Error e{ErrorCode::kUninitFailed,
          fmt::format("cannot uninit: {} tenant(s) still exist ({})", names.size(), list)};
  e.hint = "evict every tenant first";
  return make_error(std::move(e));
}

// Tenants in the store, read directly: only called while this process holds the pid lock,
// so no daemon can be changing it.
Result<std::vector<std::string>> stored_tenants(const Paths& paths) {
  std::vector<std::string> names;
  if (!fs::exists(paths.db_file()))
    return names;
  auto store = LOB_TRY(store::SqliteStore::open(paths.db_file()));
  for (const auto& t : LOB_TRY(store->list_tenants())) names.push_back(t.name);
  return names;
}

}  // namespace

void register_uninit(CommandHost& host) {
  auto yes = std::make_shared<bool>(false);
  CLI::App* cmd = host.add(
      "uninit", "Stop the daemon and delete this state root's config, data and logs",
      [yes](CliContext& ctx) -> Status {
        Paths paths = ctx.paths();
        std::string root = paths.root.empty() ? "/" : paths.root;
        if (!*yes) {
          bool go =
              LOB_TRY(ctx.confirm(fmt::format("Remove all lobsterd state under {}?", root), "-y"));
          if (!go)
            return make_error(ErrorCode::kUninitFailed, "uninit cancelled");
        }
        // Ask the running daemon first, so a refusal leaves it running.
        auto running = LOB_TRY(daemon::running_daemon(paths));
        if (running) {
          nlohmann::json s = LOB_TRY(ctx.client().get("/v1/status"));
          LOB_TRY(refuse_if_tenants(s.value("tenants", std::vector<std::string>{})));
        }
        process::PosixProcessRunner runner;
        LOB_TRY(daemon::remove_unit(runner, paths));
        LOB_TRY(daemon::stop_daemon(paths));
        {
          // Hold the daemon lock so no daemon starts while the tree goes away.
          std::optional<daemon::PidFile> lock;
          if (fs::exists(paths.run_dir))
            lock.emplace(LOB_TRY(daemon::PidFile::acquire(paths.pid_file())));
          LOB_TRY(refuse_if_tenants(LOB_TRY(stored_tenants(paths))));
          // Caddy and the ingress outlive the daemon on purpose: end them here.
          auto cfg = load_config(paths);
          LOB_TRY(daemon::stop_front_door(paths, cfg ? *cfg : Config::defaults(paths)));
          // The root's parent cgroup (tenants' cgroups went with evict). A host without a
          // usable cgroup tree never made one.
          if (auto cg = cgroup::FsCgroups::create("/sys/fs/cgroup",
                                                  cgroup::parent_name_for(paths.root))) {
            LOB_TRY((*cg)->remove_parent());
          }
          LOB_TRY(daemon::remove_layout(paths));
        }
        ctx.print({{"root", root}, {"removed", true}},
                  fmt::format("lobsterd uninitialized ({}). Binaries and group lobsterd were "
                              "not removed.",
                              root));
        return ok();
      });
  cmd->add_flag("-y,--yes", *yes, "Do not ask for confirmation");
}

}  // namespace lobster::cli
