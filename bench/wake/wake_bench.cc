// wake_bench: what the ingress costs (issue 15, done-when 5). One minimal tenant under the real
// daemon, Caddy and ingress, inside a private network namespace; every value is a
// {median, min, max, samples} summary over --runs samples (default 5), in ms or MB/s:
//   rawRestoreMs         the daemon's "restore" phase of `lobsterd resume` (VMM restore only)
//   cliResumeMs          the whole `lobsterd resume` call
//   wakeFirstByteMs      after `suspend`, GET /health through Caddy: time to the first byte
//                        (the ingress holds the request, the daemon resumes, the guest answers)
//   wakeRatio            median wakeFirstByteMs / median rawRestoreMs (goal <= 1.2)
//   latencyMs.{direct,ingress,caddy}      GET /health total time: straight to guest:9000, to
//                        the ingress's Unix socket, through Caddy (HTTPS)
//   throughputMBps.{direct,ingress,caddy} POST /echo with a 32 MiB body, same three paths
// The test gateway hashes every byte it receives (TCG guest), so throughput is bounded by the
// guest; the comparison between paths is what matters.
#include <sched.h>
#include <stdlib.h>  // getloadavg
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "../common/stats.h"
#include "../lifecycle/daemon_harness.h"
#include "core/fs.h"

namespace lobster::bench {
namespace {

constexpr const char* kTenant = "w1";
constexpr int64_t kOpTimeoutMs = 300'000;

struct Bench {
  DaemonHarness& d;
  process::PosixProcessRunner runner;
  std::string guest_ip;
  std::string body_file;

  std::string host() const { return std::string(kTenant) + ".lobster.localhost"; }
  std::string ca() const { return d.root() + "/lib/caddy/data/pki/authorities/local/root.crt"; }

  // curl for one of the three paths; `write_out` is curl's -w format (seconds).
  Result<double> curl_seconds(const std::string& path_kind, const std::string& target,
                              const std::vector<std::string>& extra, const std::string& write_out) {
    std::vector<std::string> argv = {"curl",       "-sS", "-o", "/dev/null",
                                     "--max-time", "120", "-w", write_out};
    std::string url;
    if (path_kind == "direct") {
      url = "http://" + guest_ip + ":9000" + target;
    } else if (path_kind == "ingress") {
      argv.insert(argv.end(), {"--unix-socket", d.root() + "/run/ingress.sock"});
      url = "http://" + host() + target;
    } else {
      argv.insert(argv.end(), {"--resolve", host() + ":443:127.0.0.1", "--cacert", ca()});
      url = "https://" + host() + target;
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    auto r = runner.run(argv, {.timeout_ms = 150'000});
    if (!r || r->exit_code != 0)
      return make_error(ErrorCode::kExecFailed, "curl {} {} failed: {}", path_kind, target,
                        r ? r->err : r.error().message);
    return std::stod(r->out);
  }
};

Status measure(DaemonHarness& d, int runs, nlohmann::json& out) {
  Bench b{d, {}, "", d.root() + "/body.bin"};
  LOB_TRY(d.cli_json({"spawn", kTenant, "--profile", "minimal"}, 600'000));
  LOB_TRY(d.wait_healthy(kTenant, SteadyClock::now(), 60'000));
  CliCall tank = LOB_TRY(d.cli_json({"tank"}, 60'000));
  for (const auto& row : tank.json) {
    if (row.value("name", "") == kTenant)
      b.guest_ip = row.value("ip", "");
  }
  if (b.guest_ip.empty())
    return make_error(ErrorCode::kInternal, "no guest ip in tank: {}", tank.json.dump());
  std::string body(32u << 20, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131) % 251);
  LOB_TRY(fs::write_file_atomic(b.body_file, body, 0600));

  std::vector<double> raw, cli_resume, wake;
  std::map<std::string, std::vector<double>> latency, throughput;
  for (int i = 0; i < runs; ++i) {
    std::cerr << "wake_bench: run " << (i + 1) << "/" << runs << "\n";
    LOB_TRY(d.cli_json({"suspend", kTenant}, kOpTimeoutMs));
    CliCall resumed = LOB_TRY(d.cli_json({"resume", kTenant}, kOpTimeoutMs));
    raw.push_back(resumed.json["phasesMs"].value("restore", 0.0));
    cli_resume.push_back(resumed.ms);
    LOB_TRY(d.cli_json({"suspend", kTenant}, kOpTimeoutMs));
    double first_byte = LOB_TRY(b.curl_seconds("caddy", "/health", {}, "%{time_starttransfer}"));
    wake.push_back(first_byte * 1000);
    for (const char* kind : {"direct", "ingress", "caddy"}) {
      std::vector<double> one;
      for (int k = 0; k < 9; ++k)
        one.push_back(LOB_TRY(b.curl_seconds(kind, "/health", {}, "%{time_total}")) * 1000);
      latency[kind].push_back(median(one));
      double s = LOB_TRY(b.curl_seconds(
          kind, "/echo", {"-X", "POST", "--data-binary", "@" + b.body_file}, "%{time_total}"));
      throughput[kind].push_back(32.0 * 1.048576 / s);
    }
  }
  std::filesystem::remove(b.body_file);
  out["rawRestoreMs"] = summary(raw);
  out["cliResumeMs"] = summary(cli_resume);
  out["wakeFirstByteMs"] = summary(wake);
  out["wakeRatio"] = median(raw) > 0 ? median(wake) / median(raw) : 0.0;
  for (const auto& [kind, v] : latency) out["latencyMs"][kind] = summary(v);
  for (const auto& [kind, v] : throughput) out["throughputMBps"][kind] = summary(v);
  out["addedLatencyMs"] = {{"ingress", median(latency["ingress"]) - median(latency["direct"])},
                           {"caddy", median(latency["caddy"]) - median(latency["direct"])}};
  out["throughputLossPct"] = {
      {"ingress", 100.0 * (1 - median(throughput["ingress"]) / median(throughput["direct"]))},
      {"caddy", 100.0 * (1 - median(throughput["caddy"]) / median(throughput["direct"]))}};
  return ok();
}

int run(int argc, char** argv) {
  BenchArgs args;
  if (auto rc = prepare_bench("wake_bench", argc, argv, args))
    return *rc;
  const int runs = args.runs;
  const std::string& lobsterd = args.lobsterd;
  nlohmann::json doc = {{"bench", "wake"}, {"runs", runs}, {"loadAvgStart", load_average()}};
  {
    auto d = DaemonHarness::create(lobsterd, "/tmp/lwb" + std::to_string(::getpid()));
    if (!d) {
      std::cerr << "wake_bench: setup: " << d.error().to_string() << "\n";
      return 1;
    }
    if (Status s = measure(**d, runs, doc); !s) {
      std::cerr << "wake_bench: " << s.error().to_string() << "\n";
      return 1;
    }
  }
  doc["loadAvgEnd"] = load_average();
  std::cout << doc.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace lobster::bench

int main(int argc, char** argv) { return lobster::bench::run(argc, argv); }
