// IptablesFirewall: the Firewall over iptables-save / iptables-restore --noflush, run through
// ProcessRunner (the only way lobsterd executes host commands).
//
// Backend: the nf_tables one (iptables-nft) unless the host's existing firewall lives in the
// legacy x_tables (then ours must be there too, or a legacy FORWARD DROP would still drop
// tenant traffic). detect_backend() decides; tests pick explicitly.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "host/firewall/firewall.h"
#include "host/process/process.h"

namespace lobster::firewall {

enum class Backend { kNft, kLegacy };
std::string_view backend_name(Backend backend);

// kNft unless only the legacy tables hold rules, or only legacy tools are installed.
// kPreflightFailed if neither iptables-nft-restore nor iptables-legacy-restore exists.
Result<Backend> detect_backend(process::ProcessRunner& runner);

struct IptablesSettings {
  Backend backend = Backend::kNft;
  Options options;
  std::string proc_sys = "/proc/sys";
  // If set, the value net.ipv4.ip_forward had before lobsterd first enabled it is written here
  // once (so `uninit` can restore it).
  std::string ip_forward_record;
  int64_t timeout_ms = 30'000;
};

class IptablesFirewall final : public Firewall {
 public:
  IptablesFirewall(process::ProcessRunner& runner, IptablesSettings settings)
      : runner_(runner), settings_(std::move(settings)) {}

  Status ensure_base() override;
  Status apply_tenant(const TenantNet& tenant) override;
  Status remove_tenant(const TenantNet& tenant) override;
  Result<Report> verify(const std::vector<TenantNet>& tenants) override;
  Result<Report> reconcile(const std::vector<TenantNet>& tenants) override;

  // Raw iptables-save text of the backend (tests compare normalize_save() of it).
  Result<std::string> save();
  // The ip_forward value found before ensure_base() first changed it (nullopt: not changed).
  std::optional<std::string> prior_ip_forward() const { return prior_ip_forward_; }

  // Rewrites every batch before it is applied (tests inject a failing line mid-batch).
  void set_batch_filter_for_test(std::function<std::string(std::string)> filter) {
    batch_filter_ = std::move(filter);
  }

 private:
  Result<SaveState> read_state();
  Status restore(std::string batch, const std::string& what);
  Status ensure_ip_forward();

  process::ProcessRunner& runner_;
  IptablesSettings settings_;
  std::optional<std::string> prior_ip_forward_;
  std::function<std::string(std::string)> batch_filter_;
};

}  // namespace lobster::firewall
