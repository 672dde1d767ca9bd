#include "cli/gateway_wait.h"

#include <chrono>
#include <thread>

#include "host/process/process.h"

namespace lobster::cli {
namespace {

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

std::string gateway_logs(const api::ApiClient& client, const std::string& name) {
  auto logs = client.get("/v1/tenants/" + name + "/logs?service=gateway");
  return logs ? logs->value("logs", "") : std::string();
}

// The last `n` lines of `text`.
std::string last_lines(const std::string& text, size_t n) {
  size_t pos = text.size();
  for (size_t i = 0; i <= n && pos != std::string::npos && pos > 0; ++i)
    pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// The curl command line that asks the route's /health from this host and prints only the
// HTTP status code.
std::vector<std::string> gateway_curl_argv(const GatewayRoute& route) {
  return {"curl",
          "-sS",
          "--max-time",
          "10",
          "--resolve",
          route.host + ":443:127.0.0.1",
          "--cacert",
          route.ca_file,
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "https://" + route.host + "/health"};
}

}  // namespace

Result<GatewayRoute> gateway_route(const CliContext& ctx, const std::string& name) {
  nlohmann::json status = LOB_TRY(ctx.client().get("/v1/status"));
  return GatewayRoute{name + "." + status.value("domain", "lobster.localhost"),
                      ctx.paths().caddy_dir() + "/data/pki/authorities/local/root.crt"};
}

Result<int64_t> wait_for_gateway(const CliContext& ctx, const std::string& name,
                                 const GatewayRoute& route, int max_minutes) {
  api::ApiClient client = ctx.client(30'000);
  process::PosixProcessRunner runner;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::minutes(max_minutes);
  auto next_report = start + std::chrono::seconds(30);
  auto waited = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            start)
        .count();
  };
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = runner.run(gateway_curl_argv(route), {.timeout_ms = 15'000});
    // Only the gateway's own 200 counts: while it starts, the ingress answers 502 or 503.
    if (r && r->exit_code == 0 && r->out == "200")
      return waited();
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_report) {
      // What the gateway is doing, so a slow start on a busy host does not look hung.
      std::string line = last_line(gateway_logs(client, name));
      ctx.progress(fmt::format("  gateway still starting ({} s){}{}", waited(),
                               line.empty() ? "" : ": ", line));
      next_report = now + std::chrono::seconds(30);
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  Error e{ErrorCode::kExecTimeout,
          fmt::format("the gateway of \"{}\" did not answer within {} minutes", name, max_minutes)};
  e.detail = last_lines(gateway_logs(client, name), 20);
  e.hint = fmt::format(
      "the tenant keeps running: see `lobsterd logs {0}` and `lobsterd tank`; `lobsterd molt {0}` "
      "repairs it",
      name);
  return make_error(std::move(e));
}

}  // namespace lobster::cli
