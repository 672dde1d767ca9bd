// Every CLI command's registration function. To add a command: write cmd_<name>.cc with
// register_<name>(), declare it here, add one line to register_all() in commands.cc and list
// the file in src/cli/CMakeLists.txt. `--help` lists exactly what is registered, so register
// only commands that work.
#pragma once

#include "cli/command.h"

namespace lobster::cli {

void register_init(CommandHost& host);
void register_status(CommandHost& host);
void register_uninit(CommandHost& host);
void register_daemon(CommandHost& host);
void register_ingress(CommandHost& host);  // in cmd_daemon.cc
void register_demo(CommandHost& host);
void register_spawn(CommandHost& host);
void register_tenant_ops(CommandHost& host);  // evict, suspend, resume, token, tank
void register_snap(CommandHost& host);
void register_logs(CommandHost& host);
void register_exec(CommandHost& host);
void register_configure(CommandHost& host);  // exec NAME openclaw configure
void register_devices(CommandHost& host);    // exec NAME openclaw devices
void register_molt(CommandHost& host);
void register_image(CommandHost& host);

void register_all(CommandHost& host);

// Shared by several commands.
// Runs `call` while printing the tenant's progress lines (deduplicated) on stderr.
Result<nlohmann::json> with_progress(const CliContext& ctx, const std::string& name,
                                     const std::function<Result<nlohmann::json>()>& call);
// Builds (or confirms) an image profile in this process; returns what `image build` prints.
Result<nlohmann::json> build_image_cmd(const CliContext& ctx, const std::string& profile,
                                       bool force);

}  // namespace lobster::cli
