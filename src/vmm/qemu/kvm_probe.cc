#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "core/fs.h"
#include "core/log.h"
#include "core/unique_fd.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::vmm::qemu {

int64_t host_tsc_khz(const std::string& cpuinfo_path) {
  auto text = fs::read_file(cpuinfo_path);
  if (!text)
    return 0;
  // TCG guests read the host TSC directly; only an invariant one (constant rate, ticking in
  // deep C-states) is a clock the guest may trust across its vCPUs.
  auto flags = text->find("\nflags");
  auto flags_end = text->find('\n', flags + 1);
  if (flags == std::string::npos)
    return 0;
  std::string line = " " + text->substr(flags, flags_end - flags) + " ";
  if (line.find(" constant_tsc ") == std::string::npos ||
      line.find(" nonstop_tsc ") == std::string::npos)
    return 0;
  auto pos = text->find("cpu MHz");
  if (pos == std::string::npos)
    return 0;
  pos = text->find(':', pos);
  if (pos == std::string::npos)
    return 0;
  double mhz = std::strtod(text->c_str() + pos + 1, nullptr);
  return static_cast<int64_t>(mhz * 1000.0);
}

bool KvmProbe::firecracker_binaries_present(const Config& cfg) const {
  return ::access(cfg.firecracker.binary_path.c_str(), X_OK) == 0 &&
         ::access(cfg.jailer.binary_path.c_str(), X_OK) == 0;
}

bool KvmProbe::kvm_usable() const {
  std::string cache = cache_dir_ + "/kvm-probe.json";
  if (auto text = fs::read_file(cache)) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object() && j.contains("kvmUsable") && j["kvmUsable"].is_boolean()) {
      return j["kvmUsable"].get<bool>();
    }
  }
  bool usable = false;
  std::string why;
  UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm) {
    why = "/dev/kvm cannot be opened";
  } else if (kernel_.empty() || !fs::exists(kernel_)) {
    why = "no probe kernel";
  } else {
    // A working KVM reaches the "no root fs" panic in well under a second; broken nested
    // KVM either fails with "KVM internal error" or hangs, hence the timeout.
    auto r =
        runner_.run({binary_, "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on",
                     "-accel", "kvm", "-cpu", "host", "-m", "128M", "-nodefaults",
                     "-no-user-config", "-nographic", "-no-reboot", "-kernel", kernel_, "-append",
                     "console=ttyS0 panic=-1 reboot=t", "-serial", "stdio"},
                    {.timeout_ms = 10000});
    usable = r && r->exit_code == 0 && r->out.find("Kernel panic") != std::string::npos;
    why = usable ? "probe VM booted" : "probe VM did not boot under KVM";
  }
  log::info("vmm.kvm_probe", {{"usable", usable}, {"reason", why}});
  if (fs::ensure_dir(cache_dir_, 0755)) {
    (void)fs::write_file_atomic(
        cache, nlohmann::json{{"kvmUsable", usable}, {"reason", why}}.dump() + "\n",
        0644);  // A failed cache write only means probing again.
  }
  return usable;
}

}  // namespace lobster::vmm::qemu
