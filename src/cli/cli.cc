#include "cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "api/context.h"
#include "cli/commands.h"

namespace lobster::cli {

Paths CliContext::paths() const {
  Paths p = Paths::resolve(root_flag);
  if (!p.root.empty() && p.root.front() != '/') {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(p.root, ec);
    if (!ec)
      p = Paths::under(absolute.lexically_normal().string());
  }
  return p;
}

void CliContext::print(const nlohmann::json& json_value, const std::string& human) const {
  if (json) {
    *out << json_value.dump(2) << "\n";
  } else {
    *out << human << "\n";
  }
  out->flush();
}

void CliContext::progress(const std::string& line) const {
  if (json)
    return;
  *err << line << "\n";
  err->flush();
}

Result<bool> CliContext::confirm(const std::string& question, const std::string& flag) const {
  if (!interactive) {
    Error e{ErrorCode::kValidationFailed,
            fmt::format("{} needs confirmation, but stdin is not a terminal", question)};
    e.hint = "pass " + flag + " to confirm non-interactively";
    return make_error(std::move(e));
  }
  *err << question << " [y/N] ";
  err->flush();
  std::string answer;
  std::getline(*in, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

CLI::App* CommandHost::add(const std::string& name, const std::string& description, Action action) {
  CLI::App* sub = app_.add_subcommand(name, description);
  sub->callback([this, action = std::move(action)] { chosen_ = action; });
  return sub;
}

void print_error(const CliContext& ctx, const Error& error) {
  if (ctx.json) {
    nlohmann::json body = {{"code", code_name(error.code)}, {"message", error.message}};
    body["hint"] = error.hint;
    *ctx.out << nlohmann::json{{"error", body}}.dump(2) << "\n";
    ctx.out->flush();
    return;
  }
  *ctx.err << "error: " << error.message << "\n";
  if (!error.detail.empty())
    *ctx.err << "  " << error.detail << "\n";
  if (!error.hint.empty())
    *ctx.err << "hint: " << error.hint << "\n";
  ctx.err->flush();
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            std::istream& in, bool interactive) {
  CliContext ctx;
  ctx.out = &out;
  ctx.err = &err;
  ctx.in = &in;
  ctx.interactive = interactive;

  CLI::App app("lobsterd: OpenClaw gateways in microVMs, one per tenant", "lobsterd");
  app.fallthrough();  // global options are accepted after the command too
  app.require_subcommand(1);
  app.add_option("--root", ctx.root_flag,
                 "State root: all config, data, sockets and logs under DIR "
                 "(default: $LOBSTERD_ROOT, else /etc, /var/lib, /run, /var/log lobsterd)")
      ->option_text("DIR");
  app.add_flag("--json", ctx.json, "Machine-readable output (errors too) on stdout");
  app.set_version_flag("--version", std::string("lobsterd ") + std::string(api::version()));
  CommandHost host(app);
  register_all(host);

  // CLI11 takes the arguments without the program name, in reverse order.
  std::vector<std::string> reversed(args.begin() + (args.empty() ? 0 : 1), args.end());
  std::reverse(reversed.begin(), reversed.end());
  try {
    app.parse(reversed);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    // --json may not have been parsed yet when the error struck.
    ctx.json = ctx.json || std::find(args.begin(), args.end(), "--json") != args.end();
    Error error{ErrorCode::kValidationFailed, e.what()};
    std::vector<std::string> rest = app.remaining();
    if (host.chosen() == nullptr && !rest.empty()) {
      error.message = fmt::format("unknown command or argument '{}'", rest.front());
    }
    error.hint = "see `lobsterd --help`";
    print_error(ctx, error);
    return static_cast<int>(ExitCode::kUsage);
  }
  const Action* action = host.chosen();
  if (action == nullptr) {
    out << app.help();
    return static_cast<int>(ExitCode::kUsage);
  }
  Status status = ok();
  try {
    status = (*action)(ctx);
  } catch (const std::exception& e) {
    // Third-party code (JSON access on a daemon reply, CLI11) must not end in std::terminate.
    status = make_error(ErrorCode::kInternal, "unexpected failure: {}", e.what());
  }
  if (status)
    return ctx.exit_code;
  print_error(ctx, status.error());
  return static_cast<int>(exit_code_for(status.error().code));
}

int main_entry(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return run_cli(args, std::cout, std::cerr, std::cin, ::isatty(STDIN_FILENO) == 1);
}

}  // namespace lobster::cli
