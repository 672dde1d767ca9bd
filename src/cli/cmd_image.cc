// `lobsterd image build [--profile minimal|openclaw] [--force]`: build (or confirm) a guest
// image under <data>/images/<profile>/ with a verified manifest. Runs in the CLI process (as
// root): it only writes files under the state root.
#include <memory>

#include "cli/commands.h"
#include "image/builder.h"

namespace lobster::cli {

Result<nlohmann::json> build_image_cmd(const CliContext& ctx, const std::string& profile,
                                       bool force) {
  process::PosixProcessRunner runner;
  image::BuildOptions opt;
  opt.profile = profile;
  opt.force = force;
  opt.progress = [&ctx](const std::string& line) { ctx.progress("  " + line); };
  auto built = LOB_TRY(image::build_image(runner, ctx.paths(), opt));
  nlohmann::json j = {{"profile", profile},
                      {"dir", built.dir},
                      {"rebuilt", built.rebuilt},
                      {"elapsedMs", built.elapsed_ms},
                      {"kernel", built.manifest.kernel_version}};
  nlohmann::json artifacts = nlohmann::json::object();
  for (const auto& [name, a] : built.manifest.artifacts) {
    artifacts[name] = {{"file", a.file}, {"size", a.size}, {"sha256", a.sha256}};
  }
  j["artifacts"] = artifacts;
  return j;
}

void register_image(CommandHost& host) {
  struct Args {
    std::string profile = "minimal";
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = host.add(
      "image", "Build guest images: image build [--profile P] [--force]",
      [a](CliContext& ctx) -> Status {
        ctx.progress("Building image profile \"" + a->profile + "\"...");
        nlohmann::json j = LOB_TRY(build_image_cmd(ctx, a->profile, a->force));
        ctx.print(j, fmt::format("Image \"{}\" {} in {}  ({:.1f} s)", a->profile,
                                 j["rebuilt"].get<bool>() ? "built" : "is up to date",
                                 j["dir"].get<std::string>(),
                                 static_cast<double>(j["elapsedMs"].get<int64_t>()) / 1000.0));
        return ok();
      });
  auto action = std::make_shared<std::string>();
  cmd->add_option("action", *action, "build")->required()->check(CLI::IsMember({"build"}));
  cmd->add_option("--profile", a->profile, "minimal (fast tests) or openclaw (the product)")
      ->check(CLI::IsMember({"minimal", "openclaw"}));
  cmd->add_flag("--force", a->force, "Rebuild even if the image is intact and current");
}

}  // namespace lobster::cli
