// `lobsterd demo`: the README's first command. Initializes the host with defaults, builds the
// openclaw image if needed, spawns the tenant `demo` running a real OpenClaw gateway, waits
// until the gateway answers through Caddy (about two minutes under TCG) and prints its URL,
// token and a curl line that works from this host.
#include "cli/commands.h"
#include "cli/gateway_wait.h"
#include "cli/init_flow.h"
#include "guest/openclaw_versions.h"

namespace lobster::cli {

namespace {

constexpr const char* kDemo = "demo";

// Under TCG the gateway needs ~2 min on an idle 2-core host and far longer on a busy one.
constexpr int kGatewayWaitMinutes = 30;

// OpenClaw's CLI over wss through Caddy. The token travels in the environment, never in argv
// (OpenClaw ignores environment credentials once --url is given, so the URL is set there too);
// NODE_EXTRA_CA_CERTS trusts Caddy's internal CA for this one command. The CLI's default 10 s
// budget is short for a gateway under software emulation on a busy host.
std::string openclaw_health_line(const Paths& paths, const std::string& host,
                                 const std::string& ca) {
  std::string token_cmd =
      paths.root.empty() ? "lobsterd token demo" : "lobsterd --root " + paths.root + " token demo";
  return fmt::format(
      "NODE_EXTRA_CA_CERTS={} OPENCLAW_GATEWAY_URL=wss://{} OPENCLAW_GATEWAY_TOKEN=\"$({})\" "
      "openclaw gateway health --timeout 30000",
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
            // The openclaw profile's own default size (image/profiles.h), as a plain spawn.
            return client.post("/v1/tenants", {{"name", kDemo}, {"profile", "openclaw"}});
          }));
        }
        nlohmann::json t = LOB_TRY(client.get(std::string("/v1/tenants/") + kDemo));
        nlohmann::json token = LOB_TRY(client.get(std::string("/v1/tenants/") + kDemo + "/token"));
        GatewayRoute route = LOB_TRY(gateway_route(ctx, kDemo));
        const std::string& host_name = route.host;
        const std::string& ca = route.ca_file;
        ctx.progress(
            "[4/4] Waiting for the OpenClaw gateway to answer through Caddy (~2 min "
            "under software emulation on an idle host)...");
        auto waited = wait_for_gateway(ctx, kDemo, route, kGatewayWaitMinutes);
        if (!waited) {
          Error e = waited.error();
          e.hint += "; run `lobsterd demo` again to keep waiting";
          return make_error(std::move(e));
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
