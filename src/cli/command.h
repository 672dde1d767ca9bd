// The CLI's extension point. Each command lives in its own cmd_<name>.cc with a
// `void register_<name>(CommandHost&)` function; commands.cc lists them (one line each).
//
//   void register_token(CommandHost& host) {
//     auto name = std::make_shared<std::string>();
//     CLI::App* cmd = host.add("token", "Print a tenant's gateway token",
//                              [name](CliContext& ctx) -> Status {
//       auto reply = LOB_TRY(ctx.client().get("/v1/tenants/" + *name + "/token"));
//       ctx.print(reply, reply["token"].get<std::string>());
//       return ok();
//     });
//     cmd->add_option("name", *name, "Tenant name")->required();
//   }
//
// Actions return Status; run_cli() prints errors uniformly (`error: ...` + hint on stderr, or
// {"error":{...}} on stdout with --json) and exits with exit_code_for(code).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "api/client.h"
#include "core/error.h"
#include "core/paths.h"

namespace lobster::cli {

struct CliContext {
  std::string root_flag;  // --root (LOBSTERD_ROOT applies when empty)
  bool json = false;      // --json: machine output on stdout, errors as JSON too
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::istream* in = nullptr;
  bool interactive = false;  // stdin is a terminal (prompts allowed)
  // Exit code when the action succeeds (exec: the remote command's; molt: 1 if unhealthy).
  int exit_code = 0;

  // The state root's layout. A relative --root (or LOBSTERD_ROOT) is made absolute, because
  // the detached daemon changes its directory to /.
  Paths paths() const;
  api::ApiClient client(int timeout_ms = 30'000) const {
    return api::ApiClient(paths().api_socket(), timeout_ms);
  }
  // Prints `json` (with --json) or `human` (without) plus a newline on stdout.
  void print(const nlohmann::json& json_value, const std::string& human) const;
  // A progress line on stderr (suppressed with --json).
  void progress(const std::string& line) const;
  // Asks a yes/no question on a terminal. Without a terminal: kValidationFailed telling the
  // caller to pass `flag` (e.g. "-y").
  Result<bool> confirm(const std::string& question, const std::string& flag) const;
};

using Action = std::function<Status(CliContext&)>;

class CommandHost {
 public:
  explicit CommandHost(CLI::App& app) : app_(app) {}
  // Adds a subcommand; `action` runs after parsing when this subcommand was chosen.
  CLI::App* add(const std::string& name, const std::string& description, Action action);
  CLI::App& app() { return app_; }
  const Action* chosen() const { return chosen_ ? &chosen_ : nullptr; }

 private:
  CLI::App& app_;
  Action chosen_;
};

// Prints an error the standard way (see file comment).
void print_error(const CliContext& ctx, const Error& error);

}  // namespace lobster::cli
