// DaemonHarness: one lobsterd daemon with its own state root, driven through the CLI exactly as
// an operator would (`lobsterd --root R --json ...`), for bench/lifecycle.
//
// The caller must be root and should already be in a private network namespace with `lo` up:
// the daemon's Caddy binds 80/443 and its TAPs and iptables chains live in that namespace.
//
//   auto d = LOB_TRY(DaemonHarness::create("/build/src/daemon/lobsterd", "/tmp/llb123"));
//   auto spawned = LOB_TRY(d->cli_json({"spawn", "b1", "--profile", "minimal"}, 600'000));
//   double ms = LOB_TRY(d->wait_healthy("b1", start, 60'000));
//   // ~DaemonHarness evicts every tenant, stops the daemon and Caddy, removes the root.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::bench {

using SteadyClock = std::chrono::steady_clock;

double ms_since(SteadyClock::time_point t);

struct CliCall {
  nlohmann::json json;  // parsed stdout
  double ms = 0;        // wall time of the CLI process
};

class DaemonHarness {
 public:
  // Writes <root>/etc/config.json (qemu driver, minimal profile, 1 vCPU, 256 MiB guests),
  // builds the minimal image and runs `init -y`, which starts the daemon. Their wall times are
  // in setup_ms() as "imageBuild" and "init". A partly set-up root is removed on error.
  static Result<std::unique_ptr<DaemonHarness>> create(std::string lobsterd, std::string root);
  // Evicts every tenant still listed, runs `uninit -y`, stops Caddy, removes the root and the
  // root's (empty) cgroup parents.
  ~DaemonHarness();
  DaemonHarness(const DaemonHarness&) = delete;
  DaemonHarness& operator=(const DaemonHarness&) = delete;

  // Runs `lobsterd --root R --json <args>`; errors unless it exits 0 with JSON on stdout.
  // Thread-safe (concurrent spawns).
  Result<CliCall> cli_json(const std::vector<std::string>& args, int64_t timeout_ms) const;

  // Polls GET https://<tenant>.lobster.localhost/health through Caddy (Caddy's CA, --resolve to
  // 127.0.0.1) every 50 ms until it answers {"ok":true}; returns the ms elapsed since `since`.
  Result<double> wait_healthy(const std::string& tenant, SteadyClock::time_point since,
                              int64_t timeout_ms) const;

  const nlohmann::json& setup_ms() const { return setup_ms_; }
  const std::string& root() const { return root_; }

 private:
  DaemonHarness(std::string lobsterd, std::string root)
      : lobsterd_(std::move(lobsterd)), root_(std::move(root)) {}
  Status set_up();
  process::RunResult run_cli(const std::vector<std::string>& args, int64_t timeout_ms) const;
  bool health_once(const std::string& tenant) const;
  void tear_down();

  std::string lobsterd_;
  std::string root_;
  nlohmann::json setup_ms_ = nlohmann::json::object();
  mutable process::PosixProcessRunner runner_;
};

// The common start of the daemon benchmarks. Parses `--runs N` (default 5) and
// `--lobsterd PATH` (default: this build tree's, or $LOBSTER_BINARY_DIR's), checks for root
// and enters a private network namespace with lo up (TAPs, iptables chains and Caddy's ports
// stay in there). Returns the exit code to end with (2 usage, 1 failure), or nullopt.
struct BenchArgs {
  int runs = 5;
  std::string lobsterd;
};
std::optional<int> prepare_bench(const char* name, int argc, char** argv, BenchArgs& args);

// [1, 5, 15 minute] load averages (null if unavailable): reported with every result.
nlohmann::json load_average();

// "kvm" or "tcg": the accelerator on the command line of the QEMU process `pid` ("unknown" if
// it cannot be read).
std::string accel_of_pid(int64_t pid);

}  // namespace lobster::bench
