#include "daemon_harness.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>  // getloadavg
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/fs.h"
#include "host/cgroup/cgroups.h"

namespace lobster::bench {

double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

Result<std::unique_ptr<DaemonHarness>> DaemonHarness::create(std::string lobsterd,
                                                             std::string root) {
  std::unique_ptr<DaemonHarness> d(new DaemonHarness(std::move(lobsterd), std::move(root)));
  // On error the destructor cleans up whatever set_up() got to.
  LOB_TRY(d->set_up());
  return d;
}

DaemonHarness::~DaemonHarness() { tear_down(); }

process::RunResult DaemonHarness::run_cli(const std::vector<std::string>& args,
                                          int64_t timeout_ms) const {
  std::vector<std::string> argv = {lobsterd_, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runner_.run(argv, {.timeout_ms = timeout_ms});
  if (!r) {
    process::RunResult failed;
    failed.err = r.error().to_string();
    return failed;
  }
  return *r;
}

Result<CliCall> DaemonHarness::cli_json(const std::vector<std::string>& args,
                                        int64_t timeout_ms) const {
  std::vector<std::string> with_json = {"--json"};
  with_json.insert(with_json.end(), args.begin(), args.end());
  auto t = SteadyClock::now();
  process::RunResult r = run_cli(with_json, timeout_ms);
  double ms = ms_since(t);
  std::string what = args.empty() ? std::string("lobsterd") : "lobsterd " + args[0];
  if (!r.ok()) {
    Error e{ErrorCode::kExecFailed,
            fmt::format("{} exited {}{}", what, r.exit_code, r.timed_out ? " (timed out)" : "")};
    e.detail = r.out + r.err;
    return make_error(std::move(e));
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded())
    return make_error(ErrorCode::kInternal, "{}: stdout is not JSON: {}", what, r.out);
  return CliCall{std::move(j), ms};
}

bool DaemonHarness::health_once(const std::string& tenant) const {
  std::string host = tenant + ".lobster.localhost";
  std::string ca = root_ + "/lib/caddy/data/pki/authorities/local/root.crt";
  auto r = runner_.run({"curl", "-sS", "--max-time", "2", "--resolve", host + ":443:127.0.0.1",
                        "--cacert", ca, "https://" + host + "/health"},
                       {.timeout_ms = 5'000});
  return r && r->ok() && r->out.find("\"ok\":true") != std::string::npos;
}

Result<double> DaemonHarness::wait_healthy(const std::string& tenant, SteadyClock::time_point since,
                                           int64_t timeout_ms) const {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (health_once(tenant))
      return ms_since(since);
    if (SteadyClock::now() >= deadline) {
      return make_error(ErrorCode::kExecTimeout, "{}: /health through Caddy not answered in {} ms",
                        tenant, timeout_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status DaemonHarness::set_up() {
  std::filesystem::remove_all(root_);
  LOB_TRY(fs::ensure_dir(root_, 0700));
  LOB_TRY(fs::ensure_dir(root_ + "/etc", 0700));
  nlohmann::json cfg = {
      {"firecracker", {{"defaultVcpuCount", 1}, {"defaultMemSizeMb", 256}}},
      {"overlay", {{"defaultSizeMb", 512}}},
      {"image", {{"defaultProfile", "minimal"}}},
      {"vmm", {{"driver", "qemu"}}},
  };
  LOB_TRY(fs::write_file_atomic(root_ + "/etc/config.json", cfg.dump(2), 0600));
  for (const auto& [step, args, timeout] :
       std::vector<std::tuple<const char*, std::vector<std::string>, int64_t>>{
           {"imageBuild", {"image", "build", "--profile", "minimal"}, 900'000},
           {"init", {"init", "-y"}, 120'000}}) {
    std::cerr << "lifecycle_bench: " << step << "\n";
    auto t = SteadyClock::now();
    process::RunResult r = run_cli(args, timeout);
    if (!r.ok()) {
      Error e{ErrorCode::kExecFailed, fmt::format("lobsterd {} exited {}", args[0], r.exit_code)};
      e.detail = r.out + r.err;
      return make_error(std::move(e));
    }
    setup_ms_[step] = ms_since(t);
  }
  return ok();
}

void DaemonHarness::tear_down() {
  if (fs::exists(root_ + "/run/lobsterd.pid")) {
    process::RunResult list = run_cli({"--json", "tank"}, 120'000);
    auto tenants = nlohmann::json::parse(list.out, nullptr, false);
    if (tenants.is_array()) {
      for (const auto& t : tenants) {
        process::RunResult r = run_cli({"evict", "-y", t.value("name", "")}, 300'000);
        if (!r.ok())
          std::cerr << "lifecycle_bench: evict " << t.value("name", "") << ": " << r.err << "\n";
      }
    }
  }
  // Caddy and the ingress outlive the daemon; read their pids before uninit removes run/.
  auto caddy = fs::read_file(root_ + "/run/caddy.pid");
  auto ingress = fs::read_file(root_ + "/run/ingress.pid");
  auto daemon = fs::read_file(root_ + "/run/lobsterd.pid");
  process::RunResult un = run_cli({"uninit", "-y"}, 60'000);
  if (!un.ok()) {
    std::cerr << "lifecycle_bench: uninit: " << un.out << un.err << "\n";
    if (daemon)
      ::kill(std::atoi(daemon->c_str()), SIGTERM);
  }
  // Only if that pid is still a Caddy / ingress whose command line names our root (pids get
  // reused).
  for (const auto& [pid_text, role] : {std::pair{caddy, "caddy"}, std::pair{ingress, "ingress"}}) {
    if (!pid_text)
      continue;
    auto cmd = fs::read_file("/proc/" + std::to_string(std::atoi(pid_text->c_str())) + "/cmdline");
    if (cmd && cmd->find(role) != std::string::npos && cmd->find(root_) != std::string::npos)
      ::kill(std::atoi(pid_text->c_str()), SIGTERM);
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
  for (const char* c : {"memory/", "cpu/", "pids/", ""}) {
    std::string dir = std::string("/sys/fs/cgroup/") + c + cgroup::parent_name_for(root_);
    ::rmdir(dir.c_str());  // only succeeds once empty, which is what we want
  }
}

std::string accel_of_pid(int64_t pid) {
  auto cmdline = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline)
    return "unknown";
  // Arguments are NUL-separated: look for "-accel\0kvm" / "-accel\0tcg".
  for (const char* accel : {"kvm", "tcg"}) {
    if (cmdline->find(std::string("-accel") + '\0' + accel) != std::string::npos)
      return accel;
  }
  return "unknown";
}

namespace {

std::string default_lobsterd() {
  const char* dir = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (dir != nullptr)
    return std::string(dir) + "/src/daemon/lobsterd";
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path().parent_path() / "src/daemon/lobsterd").string();
}

}  // namespace

std::optional<int> prepare_bench(const char* name, int argc, char** argv, BenchArgs& args) {
  args.lobsterd = default_lobsterd();
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs" && i + 1 < argc) {
      args.runs = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--lobsterd" && i + 1 < argc) {
      args.lobsterd = argv[i + 1];
    } else {
      std::cerr << "usage: " << name << " [--runs N] [--lobsterd PATH]\n";
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::cerr << name << " needs root (namespaces, TAPs, iptables, cgroups)\n";
    return 1;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    std::cerr << "unshare(CLONE_NEWNET): " << std::strerror(errno) << "\n";
    return 1;
  }
  process::PosixProcessRunner runner;
  if (auto r = runner.run_checked({"ip", "link", "set", "lo", "up"}); !r) {
    std::cerr << r.error().to_string() << "\n";
    return 1;
  }
  return std::nullopt;
}

nlohmann::json load_average() {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) != 3)
    return nullptr;
  return {load[0], load[1], load[2]};
}

}  // namespace lobster::bench
