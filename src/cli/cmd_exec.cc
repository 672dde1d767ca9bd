// `lobsterd exec NAME [-- CMD...]`: SSH into the tenant's guest as root with the tenant's key
// and the guest host key pinned at spawn (host key checking is never turned off, spec §16 item 17).
// A suspended tenant is resumed first. The CLI process becomes ssh, so the remote exit code is
// the command's exit code and an interactive terminal works as usual.
#include <unistd.h>

#include <memory>

#include "cli/commands.h"
#include "core/fs.h"

namespace lobster::cli {

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

void register_exec(CommandHost& host) {
  struct Args {
    std::string name;
    std::vector<std::string> command;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(
      "exec", "Open a shell or run a command in a tenant's guest (ssh)",
      [a](CliContext& ctx) -> Status {
        api::ApiClient client = ctx.client(10 * 60 * 1000);
        nlohmann::json t = LOB_TRY(client.get("/v1/tenants/" + a->name));
        if (t.value("status", "") == "suspended") {
          ctx.progress("Resuming tenant \"" + a->name + "\"...");
          t = LOB_TRY(client.post("/v1/tenants/" + a->name + "/resume", nullptr));
        }
        if (t.value("status", "") != "active") {
          return make_error(ErrorCode::kInvalidState, "tenant \"{}\" is {}", a->name,
                            t.value("status", "unknown"));
        }
        std::string ssh_dir = ctx.paths().ssh_dir() + "/" + a->name;
        if (::access((ssh_dir + "/id_ed25519").c_str(), R_OK) != 0) {
          return with_hint(
              Error{ErrorCode::kPermissionDenied, "cannot read the tenant's SSH key in " + ssh_dir},
              "run lobsterd exec as root");
        }
        bool tty = ::isatty(STDIN_FILENO) != 0 && ::isatty(STDOUT_FILENO) != 0;
        std::vector<std::string> argv = ssh_argv(ssh_dir, t.value("ip", ""), tty, a->command);
        std::vector<char*> cargv;
        for (auto& s : argv) cargv.push_back(s.data());
        cargv.push_back(nullptr);
        ::execvp("ssh", cargv.data());
        return errno_error(ErrorCode::kExecFailed, "exec ssh");
      });
  cmd->add_option("name", a->name, "Tenant name")->required();
  cmd->add_option("command", a->command, "Command to run (after --); default: a login shell");
}

}  // namespace lobster::cli
