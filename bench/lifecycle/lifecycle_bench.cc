// bench/lifecycle: tenant lifecycle timings through the real daemon and CLI, JSON on stdout
// (progress on stderr). Root; runs in its own network namespace and state root, removes both.
//
//   ninja -C build lifecycle_bench lobsterd lobster-init lobster-testgw
//   sudo ./build/bench/lifecycle/lifecycle_bench [--runs 5] [--lobsterd PATH]
//
// Per run, with the minimal profile (1 vCPU, 256 MiB) under whatever accelerator the daemon
// picked: spawn (CLI wall time) and spawn until /health answers through Caddy, suspend, resume
// and resume until /health answers again, evict; then 3 tenants spawned concurrently (until
// every CLI call returned, and until all three answer through Caddy), evicted untimed. The
// daemon reports each operation's phases (`phasesMs`); from them:
//   bootToAgent  = spawn phases "vm" + "agent" (VMM start until the guest agent answers)
//   controlPlane = spawn - bootToAgent (everything the host does besides booting the guest,
//                  including the CLI process and the API round trip)
// Every metric is {median, min, max, samples} in ms.
#include <sched.h>
#include <stdlib.h>  // getloadavg
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "../common/stats.h"
#include "daemon_harness.h"

namespace lobster::bench {
namespace {

constexpr int64_t kSpawnTimeoutMs = 600'000;
constexpr int64_t kOpTimeoutMs = 300'000;
constexpr int64_t kHealthTimeoutMs = 60'000;

struct Samples {
  std::map<std::string, std::vector<double>> metrics;
  std::map<std::string, std::map<std::string, std::vector<double>>> phases;  // op -> phase
  std::string accel = "unknown";

  void add(const std::string& metric, double ms) { metrics[metric].push_back(ms); }
  // Records the daemon-reported phases of `op` and returns their sum.
  double add_phases(const std::string& op, const nlohmann::json& reply) {
    double sum = 0;
    if (!reply.contains("phasesMs") || !reply["phasesMs"].is_object())
      return sum;
    for (const auto& [name, ms] : reply["phasesMs"].items()) {
      phases[op][name].push_back(ms.get<double>());
      sum += ms.get<double>();
    }
    return sum;
  }
};

double phase(const nlohmann::json& reply, const char* name) {
  return reply.contains("phasesMs") ? reply["phasesMs"].value(name, 0.0) : 0.0;
}

Status expect_phases(const nlohmann::json& reply, const char* op) {
  if (!reply.contains("phasesMs") || !reply["phasesMs"].is_object() || reply["phasesMs"].empty()) {
    return make_error(ErrorCode::kInternal, "{}: the daemon reported no phasesMs: {}", op,
                      reply.dump());
  }
  return ok();
}

Status one_run(const DaemonHarness& d, int run, Samples& s) {
  std::string name = "b" + std::to_string(run);
  std::cerr << "lifecycle_bench: run " << run << ": spawn " << name << "\n";
  auto t = SteadyClock::now();
  CliCall spawned = LOB_TRY(d.cli_json(
      {"spawn", name, "--profile", "minimal", "--vcpus", "1", "--mem", "256"}, kSpawnTimeoutMs));
  LOB_TRY(expect_phases(spawned.json, "spawn"));
  s.add("spawnToHealth", LOB_TRY(d.wait_healthy(name, t, kHealthTimeoutMs)));
  s.add("spawn", spawned.ms);
  double boot = phase(spawned.json, "vm") + phase(spawned.json, "agent");
  s.add("bootToAgent", boot);
  s.add("controlPlane", spawned.ms - boot);
  s.add("cliApiOverhead", spawned.ms - s.add_phases("spawn", spawned.json));
  if (spawned.json.contains("vmPid") && spawned.json["vmPid"].is_number_integer())
    s.accel = accel_of_pid(spawned.json["vmPid"].get<int64_t>());

  std::cerr << "lifecycle_bench: run " << run << ": suspend, resume, evict\n";
  CliCall suspended = LOB_TRY(d.cli_json({"suspend", name}, kOpTimeoutMs));
  LOB_TRY(expect_phases(suspended.json, "suspend"));
  s.add("suspend", suspended.ms);
  s.add_phases("suspend", suspended.json);
  t = SteadyClock::now();
  CliCall resumed = LOB_TRY(d.cli_json({"resume", name}, kOpTimeoutMs));
  LOB_TRY(expect_phases(resumed.json, "resume"));
  s.add("resumeToHealth", LOB_TRY(d.wait_healthy(name, t, kHealthTimeoutMs)));
  s.add("resume", resumed.ms);
  s.add_phases("resume", resumed.json);
  s.add("resumeControlPlane",
        resumed.ms - phase(resumed.json, "restore") - phase(resumed.json, "agent"));
  CliCall evicted = LOB_TRY(d.cli_json({"evict", "-y", name}, kOpTimeoutMs));
  s.add("evict", evicted.ms);

  std::cerr << "lifecycle_bench: run " << run << ": 3 concurrent spawns\n";
  std::vector<std::string> names;
  for (int i = 1; i <= 3; ++i) names.push_back("c" + std::to_string(run) + "-" + std::to_string(i));
  std::vector<Result<CliCall>> results(names.size(), make_error(ErrorCode::kInternal, "not run"));
  t = SteadyClock::now();
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back([&, i] {
        results[i] =
            d.cli_json({"spawn", names[i], "--profile", "minimal", "--vcpus", "1", "--mem", "256"},
                       kSpawnTimeoutMs);
      });
    }
  }
  s.add("spawn3Concurrent", ms_since(t));
  for (auto& r : results) {
    if (!r)
      return make_error(r.error());
  }
  double slowest = 0;
  for (const auto& n : names) slowest = std::max(slowest, LOB_TRY(d.wait_healthy(n, t, 60'000)));
  s.add("spawn3ConcurrentToHealth", slowest);
  for (const auto& n : names) LOB_TRY(d.cli_json({"evict", "-y", n}, kOpTimeoutMs));
  return ok();
}

// Path of lobsterd in the same build tree: <build>/bench/lifecycle/x -> <build>/src/daemon.
int run(int argc, char** argv) {
  BenchArgs args;
  if (auto rc = prepare_bench("lifecycle_bench", argc, argv, args))
    return *rc;
  const int runs = args.runs;
  const std::string& lobsterd = args.lobsterd;
  nlohmann::json load_start = load_average();
  Samples s;
  nlohmann::json setup;
  int rc = 0;
  {
    auto d = DaemonHarness::create(lobsterd, "/tmp/llb" + std::to_string(::getpid()));
    if (!d) {
      std::cerr << "lifecycle_bench: setup: " << d.error().to_string() << "\n"
                << d.error().detail << "\n";
      return 1;
    }
    setup = (*d)->setup_ms();
    for (int i = 1; i <= runs && rc == 0; ++i) {
      if (auto r = one_run(**d, i, s); !r) {
        std::cerr << "lifecycle_bench: " << r.error().to_string() << "\n"
                  << r.error().detail << "\n";
        rc = 1;
      }
    }
    std::cerr << "lifecycle_bench: cleaning up\n";
  }  // ~DaemonHarness evicts what is left, stops the daemon and removes the root
  if (rc != 0)
    return rc;
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [name, v] : s.metrics) metrics[name] = summary(v);
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& [op, by_phase] : s.phases) {
    for (const auto& [name, v] : by_phase) phases[op][name] = summary(v);
  }
  nlohmann::json doc = {
      {"bench", "lifecycle"},
      {"runs", runs},
      {"guest", "minimal profile, 1 vCPU, 256 MiB, qemu driver"},
      {"host",
       {{"accel", s.accel},
        {"cores", std::thread::hardware_concurrency()},
        {"loadAvgStart", load_start},
        {"loadAvgEnd", load_average()}}},
      {"setupMs", setup},
      {"metricsMs", metrics},
      {"phasesMs", phases},
  };
  std::cout << doc.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace lobster::bench

int main(int argc, char** argv) { return lobster::bench::run(argc, argv); }
