#include "cli/init_flow.h"

#include <unistd.h>

#include "api/auth.h"
#include "cli/init_config.h"
#include "core/fs.h"
#include "daemon/daemon.h"
#include "daemon/layout.h"
#include "daemon/preflight.h"
#include "daemon/systemd.h"
#include "host/process/process.h"

namespace lobster::cli {
namespace {

Status require_root_and_linux(const std::vector<daemon::PreflightCheck>& checks) {
  for (const auto& c : checks) {
    if (c.status != daemon::CheckStatus::kFail)
      continue;
    if (c.name == "root") {
      Error e{ErrorCode::kNotRoot, "lobsterd init must run as root: " + c.message};
      e.hint = "run it as root (prefix the command with sudo on hosts that have it)";
      return make_error(std::move(e));
    }
    if (c.name == "linux")
      return make_error(ErrorCode::kNotLinux, "{}", c.message);
  }
  return ok();
}

// Creates group lobsterd (API access for non-root operators). Failure is reported, not fatal:
// the socket then stays root-only.
std::string ensure_group(process::ProcessRunner& runner) {
  if (api::lookup_group(api::kApiGroup))
    return "exists";
  auto r = runner.run_checked({"groupadd", "--system", api::kApiGroup});
  if (!r)
    return "unavailable: " + r.error().message;
  return "created";
}

Result<nlohmann::json> ensure_daemon(const CliContext& ctx, const Paths& paths, bool config_changed,
                                     process::ProcessRunner& runner) {
  auto running = LOB_TRY(daemon::running_daemon(paths));
  if (running && !config_changed) {
    return nlohmann::json{{"pid", *running}, {"state", "already running"}};
  }
  if (running) {
    ctx.progress("  [daemon] restarting to load the new config (tenant VMs keep running)");
    LOB_TRY(daemon::stop_daemon(paths));
  }
  if (daemon::systemd_is_init()) {
    std::string exe = LOB_TRY(daemon::self_executable());
    LOB_TRY(daemon::install_unit(runner, paths, exe));
    if (running)
      LOB_TRY(runner.run_checked({"systemctl", "restart", daemon::unit_name(paths)}));
    // The unit starts asynchronously: wait (bounded) until the API answers.
    api::ApiClient client = ctx.client(2'000);
    Result<nlohmann::json> health = client.get("/v1/health");
    for (int i = 0; i < 150 && !health; ++i) {
      ::usleep(200'000);
      health = client.get("/v1/health");
    }
    if (!health)
      return make_error(health.error());
    auto pid = LOB_TRY(daemon::running_daemon(paths));
    return nlohmann::json{
        {"pid", pid.value_or(0)}, {"state", "started"}, {"unit", daemon::unit_name(paths)}};
  }
  pid_t pid = LOB_TRY(daemon::start_detached(paths));
  return nlohmann::json{{"pid", pid}, {"state", running ? "restarted" : "started"}};
}

}  // namespace

std::string format_preflight(const nlohmann::json& checks) {
  std::string out;
  for (const auto& c : checks) {
    std::string status = c.value("status", "?");
    out += fmt::format("  {:<4} {}: {}\n", status, c.value("check", "?"), c.value("message", ""));
  }
  return out;
}

Result<nlohmann::json> init_host(const CliContext& ctx, const InitRequest& request) {
  Paths paths = ctx.paths();
  // The config is validated before anything is created, so a bad file leaves no trace.
  std::optional<std::string> existing;
  if (fs::exists(paths.config_file())) {
    auto text = fs::read_file(paths.config_file());
    if (!text) {
      Error e = text.error();
      e.code = ErrorCode::kConfigNotFound;
      return make_error(std::move(e));
    }
    existing = std::move(*text);
  }
  daemon::PreflightEnv env = daemon::real_preflight_env();
  // Root and Linux first, before the KVM probe and before touching the host.
  env.probe_kvm = [](const std::string&) { return daemon::KvmProbe{}; };
  LOB_TRY(require_root_and_linux(daemon::run_preflight(env, Config::defaults(paths))));
  ConfigPlan plan = LOB_TRY(plan_init_config(existing, request.domain, paths));

  ctx.progress(
      fmt::format("Initializing lobsterd (state root {})", paths.root.empty() ? "/" : paths.root));
  LOB_TRY(daemon::ensure_layout(paths));
  ctx.progress("  [dirs] " + paths.config_dir + ", " + paths.data_dir + ", " + paths.run_dir +
               ", " + paths.log_dir);
  if (plan.new_text)
    LOB_TRY(fs::write_file_atomic(paths.config_file(), *plan.new_text, 0600));
  ctx.progress(fmt::format("  [config] {} {} (domain {})", plan.action, paths.config_file(),
                           plan.config.caddy.domain));
  process::PosixProcessRunner runner;
  std::string group = ensure_group(runner);
  ctx.progress("  [group] " + std::string(api::kApiGroup) + ": " + group);

  nlohmann::json checks = daemon::preflight_to_json(daemon::run_preflight(
      daemon::real_preflight_env(paths.run_dir + "/kvm-probe.json"), plan.config));
  ctx.progress("  [preflight]\n" + format_preflight(checks));

  nlohmann::json daemon_info =
      LOB_TRY(ensure_daemon(ctx, paths, plan.new_text.has_value(), runner));
  ctx.progress(fmt::format("  [daemon] {} (pid {})", daemon_info["state"].get<std::string>(),
                           daemon_info["pid"].get<int64_t>()));
  return nlohmann::json{
      {"root", paths.root.empty() ? "/" : paths.root},
      {"configFile", paths.config_file()},
      {"config", plan.action},
      {"domain", plan.config.caddy.domain},
      {"group", group},
      {"socket", paths.api_socket()},
      {"preflight", checks},
      {"daemon", daemon_info},
  };
}

}  // namespace lobster::cli
