// Preflight: does this host have what lobsterd needs? Run by `lobsterd init` (printed) and by
// the daemon at start (served in GET /v1/status). Only "root" and "linux" are fatal for init;
// the rest are reported: without a usable KVM, VMs run under QEMU TCG (slow but working).
//
//   auto checks = run_preflight(real_preflight_env(), config);
//   for (const auto& c : checks) fmt::print("{} {}: {}\n", symbol(c.status), c.name, c.message);
#pragma once

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "daemon/kvm_probe.h"

namespace lobster::daemon {

enum class CheckStatus { kOk, kWarn, kFail };
std::string_view check_status_name(CheckStatus status);  // "ok" | "warn" | "fail"

struct PreflightCheck {
  std::string name;  // "root", "linux", "kvm", "qemu", "caddy", "iptables", "smt", "ksm"
  CheckStatus status = CheckStatus::kOk;
  std::string message;
};

// Everything the checks read from the host, injectable for tests.
struct PreflightEnv {
  uid_t euid = 0;
  std::string os_name;   // uname sysname
  std::string sys_root;  // prefix for /sys paths ("" on a real host)
  std::string kvm_device = "/dev/kvm";
  std::function<KvmProbe(const std::string& device)> probe_kvm;
  // The VMM driver's cached full-guest KVM probe (<run>/kvm-probe.json, "" = none): a vCPU that
  // runs a few HLTs is not proof that a real guest boots (nested kvm-pvm hosts), so its answer
  // wins once it exists.
  std::string kvm_probe_cache;
  std::function<std::optional<std::string>(const std::string& name)> find_executable;
};

PreflightEnv real_preflight_env(std::string kvm_probe_cache = "");

std::vector<PreflightCheck> run_preflight(const PreflightEnv& env, const Config& config);

// [{"check":"kvm","status":"warn","message":"..."}...]
nlohmann::json preflight_to_json(const std::vector<PreflightCheck>& checks);

}  // namespace lobster::daemon
