// `lobsterd demo`: the README's first command. Initializes the host with defaults, builds the
// openclaw image if needed, spawns the tenant `demo` running a real OpenClaw gateway, waits
// until the gateway answers through Caddy (about two minutes under TCG) and prints its URL,
// token and a curl line that works from this host.
#include <chrono>
#include <thread>

#include "cli/commands.h"
#include "cli/init_flow.h"
#include "guest/openclaw_versions.h"
#include "host/process/process.h"

namespace lobster::cli {

namespace {

constexpr const char* kDemo = "demo";

// Under TCG the gateway needs ~2 min on an idle 2-core host and far longer on a busy one.
constexpr int kGatewayWaitMinutes = 30;

// The last non-empty line of a log tail, cut to a terminal-friendly length.
std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos)
    return "";
  size_t begin = text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string line = text.substr(begin, end - begin + 1);
  return line.size() > 160 ? line.substr(0, 157) + "..." : line;
}

std::vector<std::string> curl_argv(const std::string& host, const std::string& ca) {
  return {"curl",     "-sS",       "--max-time",
          "10",       "--resolve", host + ":443:127.0.0.1",
          "--cacert", ca,          "https://" + host + "/health"};
}

// OpenClaw's CLI over wss through Caddy. The token travels in the environment, never in argv
// (OpenClaw ignores environment credentials once --url is given, so the URL is set there too);
// NODE_EXTRA_CA_CERTS trusts Caddy's internal CA for this one command.
std::string openclaw_health_line(const Paths& paths, const std::string& host,
                                 const std::string& ca) {
  std::string token_cmd =
      paths.root.empty() ? "lobsterd token demo" : "lobsterd --root " + paths.root + " token demo";
  return fmt::format(
      "NODE_EXTRA_CA_CERTS={} OPENCLAW_GATEWAY_URL=wss://{} OPENCLAW_GATEWAY_TOKEN=\"$({})\" "
      "openclaw gateway health",
      ca, host, token_cmd);
}

}  // namespace

void register_demo(CommandHost& host) {
  host.add(
      "demo", "Set up this host and spawn an OpenClaw tenant `demo` you can reach",
      [](CliContext& ctx) -> Status {
        ctx.progress("[1/4] Initializing the host...");
        LOB_TRY(init_host(ctx, InitRequest{}));
        ctx.progress("[2/4] Building the openclaw guest image (first run: a few minutes)...");
        LOB_TRY(build_image_cmd(ctx, "openclaw", false));
        api::ApiClient client = ctx.client(30 * 60 * 1000);
        auto existing = client.get(std::string("/v1/tenants/") + kDemo);
        if (existing && existing->value("status", "") == "suspended") {
          LOB_TRY(client.post(std::string("/v1/tenants/") + kDemo + "/resume", nullptr));
        } else if (!existing) {
          if (existing.error().code != ErrorCode::kTenantNotFound)
            return make_error(existing.error());
          ctx.progress("[3/4] Spawning tenant \"demo\" (OpenClaw in its own microVM)...");
          LOB_TRY(with_progress(ctx, kDemo, [&] {
            // OpenClaw's node processes hold ~0.9 GB: 2 GiB and 2 vCPUs (DESIGN.md measurements).
            return client.post(
                "/v1/tenants",
                {{"name", kDemo}, {"profile", "openclaw"}, {"vcpus", 2}, {"memMb", 2048}});
          }));
        }
        nlohmann::json t = LOB_TRY(client.get(std::string("/v1/tenants/") + kDemo));
        nlohmann::json token = LOB_TRY(client.get(std::string("/v1/tenants/") + kDemo + "/token"));
        nlohmann::json status = LOB_TRY(client.get("/v1/status"));
        std::string domain = status.value("domain", "lobster.localhost");
        std::string host_name = std::string(kDemo) + "." + domain;
        std::string ca = ctx.paths().caddy_dir() + "/data/pki/authorities/local/root.crt";
        ctx.progress(
            "[4/4] Waiting for the OpenClaw gateway to answer through Caddy (~2 min "
            "under software emulation on an idle host)...");
        process::PosixProcessRunner runner;
        bool up = false;
        const auto start = std::chrono::steady_clock::now();
        const auto deadline = start + std::chrono::minutes(kGatewayWaitMinutes);
        auto next_report = start + std::chrono::seconds(30);
        while (!up && std::chrono::steady_clock::now() < deadline) {
          auto r = runner.run(curl_argv(host_name, ca), {.timeout_ms = 15'000});
          up = r && r->exit_code == 0 && !r->out.empty() && r->out.find("502") == std::string::npos;
          if (up)
            break;
          const auto now = std::chrono::steady_clock::now();
          if (now >= next_report) {
            // What the gateway is doing, so a slow start on a busy host does not look hung.
            auto logs = client.get(std::string("/v1/tenants/") + kDemo + "/logs?service=gateway");
            std::string line = logs ? last_line(logs->value("logs", "")) : std::string();
            ctx.progress(
                fmt::format("  still starting ({} s){}{}",
                            std::chrono::duration_cast<std::chrono::seconds>(now - start).count(),
                            line.empty() ? "" : ": ", line));
            next_report = now + std::chrono::seconds(30);
          }
          std::this_thread::sleep_for(std::chrono::seconds(3));
        }
        if (!up) {
          return with_hint(Error{ErrorCode::kExecTimeout,
                                 fmt::format("the demo gateway did not answer within {} minutes",
                                             kGatewayWaitMinutes)},
                           "the tenant keeps running: see `lobsterd logs demo` and `lobsterd "
                           "tank`, then run `lobsterd demo` again to keep waiting");
        }
        std::string curl_line =
            fmt::format("curl --resolve {}:443:127.0.0.1 --cacert {} https://{}/health", host_name,
                        ca, host_name);
        std::string openclaw_line = openclaw_health_line(ctx.paths(), host_name, ca);
        ctx.print({{"tenant", t},
                   {"url", "https://" + host_name},
                   {"token", token.value("token", "")},
                   {"curl", curl_line},
                   {"openclaw", openclaw_line}},
                  fmt::format("OpenClaw tenant \"demo\" is up.\n  URL:   https://{}\n  Token: {}\n"
                              "  Try:   {}\n"
                              "  OpenClaw's own CLI (npm i -g openclaw@{}; Node >= 22):\n"
                              "         {}\n"
                              "  Control UI: https://{}/#token=<token>, then approve the browser "
                              "with `lobsterd devices demo approve <requestId>`\n"
                              "  Shell: lobsterd exec demo",
                              host_name, token.value("token", ""), curl_line,
                              guest::kOpenClawVersion, openclaw_line, host_name));
        return ok();
      });
}

}  // namespace lobster::cli
