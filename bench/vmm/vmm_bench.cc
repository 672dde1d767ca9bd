// bench/vmm: qemu driver timings, JSON on stdout (progress on stderr). Root; no network.
//
//   ninja -C build vmm_bench lobster-init lobster-testgw
//   sudo ./build/bench/vmm/vmm_bench [--runs 5] [--sizes 256,512,1024] [--guest minimal|tiny]
//
// Per guest size and run: bootToReady (driver start -> the guest answers: with the default
// `minimal` guest the agent's health-ping over the TAP, in a private network namespace; with
// `tiny` a busybox console command), pause, resume (QMP round trips), snapshot (stop +
// migration stream to a file), restore (new QEMU + incoming stream + cont) and
// restoreToResponsive (restore until the guest answers again), and the VMM's peak resident
// memory (VmHWM) against its guest RAM and cgroup limit. Medians over the runs.
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "../../tests/e2e/vmm/tiny_guest.h"
#include "../common/stats.h"
#include "core/fs.h"
#include "host/cgroup/cgroups.h"
#include "host/process/process.h"
#include "vmm/qemu/qemu_args.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::vmm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

Status fail(const char* what, const Error& e) {
  return std::unexpected(Error{e.code, std::string(what) + ": " + e.to_string()});
}

constexpr const char* kTap = "lvb0";
constexpr const char* kHostIp = "10.0.0.5";
constexpr const char* kGuestIp = "10.0.0.6";
constexpr const char* kToken = "vmm-bench-agent-token";

struct Samples {
  std::map<std::string, std::vector<double>> ms;
  std::vector<double> stream_bytes;
  std::vector<double> peak_rss_mb;  // the VMM's VmHWM at the end of a run (booted + restored)
};

// The VMM's peak resident memory so far, in MiB (0 if unreadable).
double peak_rss_mb(Vm& vm) {
  auto st = vm.stats();
  return st ? static_cast<double>(st->peak_rss_bytes) / (1 << 20) : 0.0;
}

// Waits until the guest answers: the agent (minimal guest) or a console command (tiny guest).
Status wait_responsive(bool minimal, const VmSpec& spec, const std::string& tag,
                       int64_t timeout_ms) {
  if (minimal) {
    std::string reply = testing::agent_ping_until(kGuestIp, 53, kToken, timeout_ms);
    if (reply.find("PONG") == std::string::npos) {
      return make_error(ErrorCode::kExecTimeout, "agent did not answer ({})", reply);
    }
    return ok();
  }
  auto con = LOB_TRY(testing::Console::connect(spec.console_socket_for_test, 10000));
  LOB_TRY(con.send_line("ping " + tag));
  LOB_TRY(con.expect("PONG " + tag, timeout_ms));
  return ok();
}

Status one_run(qemu::QemuDriver& driver, const VmSpec& spec, bool minimal,
               const std::string& snap_dir, Samples& out) {
  auto t = Clock::now();
  auto vm = driver.start(spec);
  if (!vm)
    return fail("start", vm.error());
  auto stop_on_error = [&](const char* what, const Error& e) {
    (void)(*vm)->stop(0);  // Leave nothing behind; the first error is reported.
    return fail(what, e);
  };
  if (minimal) {
    if (auto r = wait_responsive(true, spec, "", 300000); !r)
      return stop_on_error("boot", r.error());
  } else {
    auto con = testing::Console::connect(spec.console_socket_for_test, 10000);
    if (!con)
      return stop_on_error("console", con.error());
    if (auto r = con->expect(testing::kReadyMarker, 300000); !r) {
      return stop_on_error("boot", r.error());
    }
  }
  out.ms["bootToReady"].push_back(ms_since(t));
  const double boot_peak_mb = peak_rss_mb(**vm);

  t = Clock::now();
  if (auto r = (*vm)->pause(); !r)
    return stop_on_error("pause", r.error());
  out.ms["pause"].push_back(ms_since(t));
  t = Clock::now();
  if (auto r = (*vm)->resume(); !r)
    return stop_on_error("resume", r.error());
  out.ms["resume"].push_back(ms_since(t));
  if (auto r = wait_responsive(minimal, spec, "a", 60000); !r) {
    return stop_on_error("after resume", r.error());
  }

  std::filesystem::remove_all(snap_dir);
  t = Clock::now();
  if (auto r = (*vm)->snapshot(snap_dir); !r)
    return stop_on_error("snapshot", r.error());
  out.ms["snapshot"].push_back(ms_since(t));
  out.stream_bytes.push_back(
      static_cast<double>(std::filesystem::file_size(snap_dir + "/state.qemu")));
  if (auto r = (*vm)->stop(0); !r)
    return fail("stop", r.error());

  t = Clock::now();
  auto restored = driver.restore(snap_dir, spec);
  if (!restored)
    return fail("restore", restored.error());
  out.ms["restore"].push_back(ms_since(t));
  if (auto r = wait_responsive(minimal, spec, "b", 60000); !r) {
    (void)(*restored)->stop(0);
    return fail("after restore", r.error());
  }
  out.ms["restoreToResponsive"].push_back(ms_since(t));
  out.peak_rss_mb.push_back(std::max(boot_peak_mb, peak_rss_mb(**restored)));
  if (auto r = (*restored)->stop(0); !r)
    return fail("stop", r.error());
  return ok();
}

int run(int argc, char** argv) {
  int runs = 5;
  bool minimal = true;
  std::vector<int64_t> sizes = {256, 512, 1024};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs") {
      runs = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--sizes") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (size_t pos = 0; pos < list.size();) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos)
          comma = list.size();
        sizes.push_back(std::atoll(list.substr(pos, comma - pos).c_str()));
        pos = comma + 1;
      }
    } else if (flag == "--guest") {
      minimal = std::string(argv[i + 1]) != "tiny";
    } else {
      std::cerr << "usage: vmm_bench [--runs N] [--sizes 256,512,1024] [--guest minimal|tiny]\n";
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::cerr << "vmm_bench needs root (cgroups, namespaces)\n";
    return 1;
  }
  std::string root = "/tmp/lvb" + std::to_string(::getpid());
  auto guest = testing::build_tiny_guest("/tmp/lobster-qemu-e2e-guest");
  if (!guest) {
    std::cerr << guest.error().to_string() << "\n";
    return 1;
  }
  process::PosixProcessRunner runner;
  std::optional<testing::MinimalGuest> image;
  if (minimal) {
    // A private network namespace for the TAP; it vanishes with this process.
    if (::unshare(CLONE_NEWNET) != 0) {
      std::cerr << "unshare(CLONE_NEWNET): " << std::strerror(errno) << "\n";
      return 1;
    }
    auto setup = [&]() -> Status {
      LOB_TRY(runner.run_checked({"ip", "link", "set", "lo", "up"}));
      LOB_TRY(testing::make_tap(kTap, 64124));
      LOB_TRY(runner.run_checked({"ip", "addr", "add", std::string(kHostIp) + "/30", "dev", kTap}));
      LOB_TRY(runner.run_checked({"ip", "link", "set", kTap, "up"}));
      image =
          LOB_TRY(testing::prepare_minimal_guest(runner, root + "/img", kToken, kGuestIp, kHostIp));
      return ok();
    };
    if (auto r = setup(); !r) {
      std::cerr << r.error().to_string() << "\n";
      std::filesystem::remove_all(root);
      return 1;
    }
  }
  auto cg = cgroup::FsCgroups::create("/sys/fs/cgroup", cgroup::parent_name_for(root));
  if (!cg) {
    std::cerr << cg.error().to_string() << "\n";
    return 1;
  }
  auto probe = std::make_shared<qemu::KvmProbe>("/usr/bin/qemu-system-x86_64", guest->kernel,
                                                root + "/run", runner);
  qemu::QemuDriver driver({}, probe, **cg, runner);
  nlohmann::json results = nlohmann::json::array();
  int rc = 0;
  for (int64_t mem : sizes) {
    Samples s;
    VmSpec spec;
    spec.id = "bench" + std::to_string(mem);
    spec.kernel = guest->kernel;
    spec.initramfs = guest->initramfs;
    spec.cmdline = testing::kTinyCmdline;
    if (image) {
      spec.kernel = image->kernel;
      spec.initramfs = image->initramfs;
      spec.cmdline = image->cmdline;
      spec.drives = image->drives;
      spec.net = NetIface{kTap, "06:00:0a:00:00:06", std::nullopt, std::nullopt};
    }
    spec.vcpus = 1;
    spec.mem_mib = mem;
    spec.limits = default_limits(1, mem);
    spec.jail = {64124, 64124, root + "/jail/" + spec.id};
    spec.console_log_path = root + "/" + spec.id + ".console.log";
    spec.vmm_log_path = root + "/" + spec.id + ".vmm.log";
    spec.run_dir = root + "/run/" + spec.id;
    spec.console_socket_for_test = root + "/run/" + spec.id + ".con";
    (void)fs::ensure_dir(root, 0711);
    for (int i = 0; i < runs; ++i) {
      std::cerr << "vmm_bench: " << mem << " MiB run " << (i + 1) << "/" << runs << "\n";
      auto r = one_run(driver, spec, image.has_value(), root + "/snap-" + spec.id, s);
      if (!r) {
        std::cerr << "vmm_bench: " << r.error().message << "\n";
        rc = 1;
        break;
      }
    }
    nlohmann::json entry = {{"memMib", mem}, {"runs", s.ms["bootToReady"].size()}};
    for (const auto& [name, v] : s.ms)
      entry[name + "Ms"] = {{"median", bench::median(v)}, {"samples", v}};
    entry["snapshotStreamBytes"] = bench::median(s.stream_bytes);
    // What the VMM needs beyond guest RAM: the cgroup limit must cover it (vmm::kVmmOverheadMiB,
    // plus qemu::kTcgTranslationCacheMiB under TCG).
    const double peak = bench::median(s.peak_rss_mb);
    entry["peakRssMb"] = peak;
    entry["peakRssOverGuestMb"] = peak - static_cast<double>(mem);
    entry["cgroupLimitMb"] =
        (probe->kvm_usable() ? spec.limits.memory_bytes
                             : qemu::tcg_memory_limit(spec.limits.memory_bytes)) >>
        20;
    results.push_back(entry);
  }
  nlohmann::json doc = {{"bench", "vmm"},
                        {"driver", "qemu"},
                        {"accel", probe->kvm_usable() ? "kvm" : "tcg"},
                        {"guest", image ? "minimal image (lobster-init agent), 1 vCPU"
                                        : "tiny initramfs (busybox console), 1 vCPU"},
                        {"ready", image ? "agent health-ping answered" : "console marker"},
                        {"results", results}};
  std::cout << doc.dump(2) << "\n";
  std::filesystem::remove_all(root);
  for (const char* c : {"memory/", "cpu/", "pids/", ""}) {
    std::string d = std::string("/sys/fs/cgroup/") + c + cgroup::parent_name_for(root);
    ::rmdir(d.c_str());
  }
  return rc;
}

}  // namespace
}  // namespace lobster::vmm

int main(int argc, char** argv) { return lobster::vmm::run(argc, argv); }
