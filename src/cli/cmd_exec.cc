// `lobsterd exec NAME [-- CMD...]`: SSH into the tenant's guest as root with the tenant's key
// and the guest host key pinned at spawn (host key checking is never turned off, spec §16 item 17).
// `configure NAME` and `devices NAME` are exec of `openclaw configure` / `openclaw devices`.
// A suspended tenant is resumed first; a hold (spec §9.6) keeps it from being suspended while
// ssh runs as a foreground child (renewed every 120 s, released after). The CLI exits with
// ssh's exit code (128 + n if a signal killed it).
#include <unistd.h>

#include <memory>

#include "cli/commands.h"
#include "cli/foreground_child.h"
#include "core/fs.h"

namespace lobster::cli {
namespace {
// Spec §9.6: renew the 300 s hold every 120 s.
constexpr int64_t kHoldKeepaliveMs = 120'000;
}  // namespace

// One word for a POSIX shell: bare if it only has characters no shell treats specially,
// else single-quoted with embedded quotes as '\''.
std::string shell_quote(const std::string& word) {
  bool bare = !word.empty();
  for (char c : word) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("_./:=@%+,-").find(c) != std::string_view::npos;
    bare = bare && safe;
  }
  if (bare)
    return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The ssh argv for a tenant (pure; tested).
std::vector<std::string> ssh_argv(const std::string& ssh_dir, const std::string& ip, bool tty,
                                  const std::vector<std::string>& command) {
  std::vector<std::string> argv = {"ssh",
                                   "-i",
                                   ssh_dir + "/id_ed25519",
                                   "-o",
                                   "UserKnownHostsFile=" + ssh_dir + "/known_hosts",
                                   "-o",
                                   "GlobalKnownHostsFile=/dev/null",
                                   "-o",
                                   "StrictHostKeyChecking=yes",
                                   "-o",
                                   "IdentitiesOnly=yes",
                                   "-o",
                                   "BatchMode=yes",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-o",
                                   "ConnectTimeout=10"};
  argv.push_back(tty ? "-t" : "-T");
  argv.push_back("root@" + ip);
  // ssh joins its arguments with spaces into ONE remote shell command, so each word must be
  // shell-quoted here or `sh -c 'exit 7'` would arrive as `sh -c exit 7`.
  if (!command.empty()) {
    argv.push_back("--");
    std::string line;
    for (const auto& word : command) {
      if (!line.empty())
        line += ' ';
      line += shell_quote(word);
    }
    argv.push_back(line);
  }
  return argv;
}

// The tenant's record, resumed first if it is suspended (spec §9.6).
Result<nlohmann::json> active_tenant(const CliContext& ctx, const api::ApiClient& client,
                                     const std::string& name) {
  nlohmann::json t = LOB_TRY(client.get("/v1/tenants/" + name));
  std::string status = t.value("status", "");
  if (status == "removing") {
    return make_error(ErrorCode::kValidationFailed, "tenant \"{}\" is being removed", name);
  }
  if (status == "suspended") {
    ctx.progress("Resuming tenant \"" + name + "\"...");
    t = LOB_TRY(client.post("/v1/tenants/" + name + "/resume", nullptr));
  }
  if (t.value("status", "") != "active") {
    return make_error(ErrorCode::kInvalidState, "tenant \"{}\" is {}", name,
                      t.value("status", "unknown"));
  }
  return t;
}

Status run_in_guest(CliContext& ctx, const std::string& name,
                    const std::vector<std::string>& command) {
  api::ApiClient client = ctx.client(10 * 60 * 1000);
  nlohmann::json t = LOB_TRY(active_tenant(ctx, client, name));
  std::string ssh_dir = ctx.paths().ssh_dir() + "/" + name;
  if (::access((ssh_dir + "/id_ed25519").c_str(), R_OK) != 0) {
    return with_hint(
        Error{ErrorCode::kPermissionDenied, "cannot read the tenant's SSH key in " + ssh_dir},
        "run lobsterd exec as root");
  }
  // The hold keeps the scheduler from suspending the tenant under the session. Holds are
  // best effort (spec §9.6): a session without one still runs.
  const std::string holds = "/v1/tenants/" + name + "/holds";
  std::string hold_id;
  if (auto h = client.post(holds, nlohmann::json::object()); h) {
    hold_id = h->value("holdId", "");
  } else {
    ctx.progress("warning: no suspend hold: " + h.error().message);
  }
  bool tty = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
  std::vector<std::string> argv = ssh_argv(ssh_dir, t.value("ip", ""), tty, command);
  api::ApiClient quick = ctx.client(10'000);
  auto code = run_foreground(argv, kHoldKeepaliveMs, [&] {
    if (!hold_id.empty())
      (void)quick.call("PUT", holds + "/" + hold_id, nlohmann::json::object());
  });
  if (!hold_id.empty())
    (void)quick.call("DELETE", holds + "/" + hold_id);
  ctx.exit_code = LOB_TRY(std::move(code));
  return ok();
}

void register_exec(CommandHost& host) {
  struct Args {
    std::string name;
    std::vector<std::string> command;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd =
      host.add("exec", "Open a shell or run a command in a tenant's guest (ssh)",
               [a](CliContext& ctx) -> Status { return run_in_guest(ctx, a->name, a->command); });
  cmd->add_option("name", a->name, "Tenant name")->required();
  cmd->add_option("command", a->command, "Command to run (after --); default: a login shell");
}

namespace {

// `<command> NAME` = `exec NAME openclaw <command>` (spec §6.6).
void register_openclaw_command(CommandHost& host, const std::string& command,
                               const std::string& help, const std::string& args_help) {
  struct Args {
    std::string name;
    std::vector<std::string> rest;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(command, help, [a, command](CliContext& ctx) -> Status {
    std::vector<std::string> argv = {"openclaw", command};
    argv.insert(argv.end(), a->rest.begin(), a->rest.end());
    return run_in_guest(ctx, a->name, argv);
  });
  cmd->add_option("name", a->name, "Tenant name")->required();
  cmd->add_option("args", a->rest, args_help);
}

}  // namespace

void register_configure(CommandHost& host) {
  register_openclaw_command(host, "configure",
                            "Run OpenClaw's configuration TUI in a tenant's guest",
                            "Arguments for `openclaw configure` (after -- when they start with -)");
}

void register_devices(CommandHost& host) {
  register_openclaw_command(
      host, "devices", "List and approve OpenClaw paired devices of a tenant",
      "Arguments for `openclaw devices`, e.g. `list`, `approve <requestId>` (after -- when they "
      "start with -)");
}

}  // namespace lobster::cli
