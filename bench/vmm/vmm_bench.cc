// bench/vmm: qemu driver timings, JSON on stdout (progress on stderr). Root; no network.
//
//   ninja -C build vmm_bench && sudo ./build/bench/vmm/vmm_bench [--runs 5] [--sizes 256,512,1024]
//
// Per guest size and run: boot (driver start -> the tiny guest's ready marker on the console;
// the agent is not in this guest), pause, resume (QMP round trips), snapshot (stop + migration
// stream to a file), restore (new QEMU + incoming stream + cont) and restore-to-responsive
// (until the guest answers a console command). Medians over the runs.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "../../tests/e2e/vmm/tiny_guest.h"
#include "core/fs.h"
#include "host/cgroup/cgroups.h"
#include "host/process/process.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::vmm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

Status fail(const char* what, const Error& e) {
  return std::unexpected(Error{e.code, std::string(what) + ": " + e.to_string()});
}

struct Samples {
  std::map<std::string, std::vector<double>> ms;
  std::vector<double> stream_bytes;
};

Status one_run(qemu::QemuDriver& driver, const VmSpec& spec, const std::string& snap_dir,
               Samples& out) {
  auto t = Clock::now();
  auto vm = driver.start(spec);
  if (!vm)
    return fail("start", vm.error());
  auto con = testing::Console::connect(spec.console_socket_for_test, 10000);
  if (!con)
    return fail("console", con.error());
  if (auto r = con->expect(testing::kReadyMarker, 300000); !r)
    return fail("boot", r.error());
  out.ms["bootToReady"].push_back(ms_since(t));

  t = Clock::now();
  if (auto r = (*vm)->pause(); !r)
    return fail("pause", r.error());
  out.ms["pause"].push_back(ms_since(t));
  t = Clock::now();
  if (auto r = (*vm)->resume(); !r)
    return fail("resume", r.error());
  out.ms["resume"].push_back(ms_since(t));
  if (auto r = con->send_line("ping a"); !r)
    return fail("ping", r.error());
  if (auto r = con->expect("PONG a", 60000); !r)
    return fail("ping", r.error());

  std::filesystem::remove_all(snap_dir);
  t = Clock::now();
  if (auto r = (*vm)->snapshot(snap_dir); !r)
    return fail("snapshot", r.error());
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
  auto con2 = testing::Console::connect(spec.console_socket_for_test, 10000);
  if (!con2)
    return fail("console", con2.error());
  if (auto r = con2->send_line("ping b"); !r)
    return fail("ping", r.error());
  if (auto r = con2->expect("PONG b", 60000); !r)
    return fail("restored ping", r.error());
  out.ms["restoreToResponsive"].push_back(ms_since(t));
  if (auto r = (*restored)->stop(0); !r)
    return fail("stop", r.error());
  return ok();
}

int run(int argc, char** argv) {
  int runs = 5;
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
    } else {
      std::cerr << "usage: vmm_bench [--runs N] [--sizes 256,512,1024]\n";
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
      auto r = one_run(driver, spec, root + "/snap-" + spec.id, s);
      if (!r) {
        std::cerr << "vmm_bench: " << r.error().message << "\n";
        rc = 1;
        break;
      }
    }
    nlohmann::json entry = {{"memMib", mem}, {"runs", s.ms["bootToReady"].size()}};
    for (const auto& [name, v] : s.ms) entry[name + "Ms"] = {{"median", median(v)}, {"samples", v}};
    entry["snapshotStreamBytes"] = median(s.stream_bytes);
    results.push_back(entry);
  }
  nlohmann::json doc = {{"bench", "vmm"},
                        {"driver", "qemu"},
                        {"accel", probe->kvm_usable() ? "kvm" : "tcg"},
                        {"guest", "tiny initramfs (busybox), 1 vCPU"},
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
