#include "daemon/preflight.h"

#include <sys/utsname.h>
#include <unistd.h>

#include "core/fs.h"
#include "host/process/process.h"

namespace lobster::daemon {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

PreflightCheck binary_check(const PreflightEnv& env, const std::string& name,
                            const std::string& configured, const std::string& package,
                            CheckStatus missing_status) {
  std::optional<std::string> found;
  if (!configured.empty())
    found = env.find_executable(configured);
  if (!found)
    found = env.find_executable(name);
  if (found)
    return {name, CheckStatus::kOk, *found};
  return {name, missing_status,
          fmt::format("{} not found (install the Debian package {})", name, package)};
}

}  // namespace

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
  }
  return "fail";
}

PreflightEnv real_preflight_env(std::string kvm_probe_cache) {
  PreflightEnv env;
  env.kvm_probe_cache = std::move(kvm_probe_cache);
  env.euid = ::geteuid();
  utsname u{};
  env.os_name = ::uname(&u) == 0 ? u.sysname : "unknown";
  env.probe_kvm = [](const std::string& device) { return probe_kvm(device); };
  env.find_executable = [](const std::string& name) { return process::find_executable(name); };
  return env;
}

std::vector<PreflightCheck> run_preflight(const PreflightEnv& env, const Config& config) {
  std::vector<PreflightCheck> out;
  out.push_back(env.euid == 0 ? PreflightCheck{"root", CheckStatus::kOk, "running as root"}
                              : PreflightCheck{"root", CheckStatus::kFail,
                                               fmt::format("running as uid {}, lobsterd needs root",
                                                           env.euid)});
  out.push_back(env.os_name == "Linux"
                    ? PreflightCheck{"linux", CheckStatus::kOk, "Linux"}
                    : PreflightCheck{"linux", CheckStatus::kFail,
                                     "lobsterd needs Linux, this is " + env.os_name});

  KvmProbe kvm = env.probe_kvm(env.kvm_device);
  if (kvm.usable && !env.kvm_probe_cache.empty()) {
    auto text = fs::read_file(env.kvm_probe_cache);
    auto full = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (full.is_object() && full.value("kvmUsable", true) == false) {
      kvm.usable = false;
      kvm.detail = "a probe vCPU runs but a full guest does not boot: " +
                   full.value("reason", std::string("no reason recorded"));
    } else if (!full.is_object()) {
      kvm.detail += " (the first VM start boots a probe guest to confirm, else QEMU TCG)";
    }
  }
  if (kvm.usable) {
    out.push_back({"kvm", CheckStatus::kOk, env.kvm_device + " usable: " + kvm.detail});
  } else if (kvm.present) {
    out.push_back({"kvm", CheckStatus::kWarn,
                   fmt::format("{} present but unusable ({}); VMs will run under QEMU TCG (slower)",
                               env.kvm_device, kvm.detail)});
  } else {
    out.push_back({"kvm", CheckStatus::kWarn,
                   fmt::format("{}; VMs will run under QEMU TCG (slower)", kvm.detail)});
  }

  out.push_back(binary_check(env, "qemu-system-x86_64", config.vmm.qemu_binary, "qemu-system-x86",
                             CheckStatus::kFail));
  out.push_back(binary_check(env, "caddy", config.caddy.binary_path, "caddy",
                             config.caddy.external ? CheckStatus::kWarn : CheckStatus::kFail));
  out.push_back(
      binary_check(env, "iptables", "/usr/sbin/iptables", "iptables", CheckStatus::kFail));

  auto smt = fs::read_file(env.sys_root + "/sys/devices/system/cpu/smt/active");
  if (smt && trimmed(*smt) == "1") {
    out.push_back({"smt", CheckStatus::kWarn,
                   "SMT is active: sibling hyperthreads can leak data between tenants; consider "
                   "booting with `nosmt`"});
  } else {
    out.push_back({"smt", CheckStatus::kOk, smt ? "SMT inactive" : "SMT not reported"});
  }

  auto ksm = fs::read_file(env.sys_root + "/sys/kernel/mm/ksm/run");
  if (ksm && trimmed(*ksm) != "0") {
    out.push_back({"ksm", CheckStatus::kWarn,
                   "KSM is enabled: page merging enables cross-VM side channels; consider "
                   "`echo 0 > /sys/kernel/mm/ksm/run`"});
  } else {
    out.push_back({"ksm", CheckStatus::kOk, ksm ? "KSM disabled" : "KSM not available"});
  }
  return out;
}

nlohmann::json preflight_to_json(const std::vector<PreflightCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const PreflightCheck& c : checks) {
    out.push_back(
        {{"check", c.name}, {"status", check_status_name(c.status)}, {"message", c.message}});
  }
  return out;
}

}  // namespace lobster::daemon
