// FakeFirewall: in-memory Firewall. It stores the installed rule sets as values, so tests of
// spawn/evict/reconcile check the resulting state (installed(), base_ready()).
// fail_next_for_test() makes the next mutating call fail without changing anything, like a
// rejected iptables-restore batch.
#pragma once

#include <map>
#include <optional>

#include "host/firewall/firewall.h"

namespace lobster::firewall::testing {

class FakeFirewall final : public Firewall {
 public:
  explicit FakeFirewall(Options options = {}) : options_(std::move(options)) {}

  Status ensure_base() override {
    LOB_TRY(take_failure());
    base_ready_ = true;
    return ok();
  }
  Status apply_tenant(const TenantNet& t) override {
    LOB_TRY(take_failure());
    if (!base_ready_) {
      return make_error(ErrorCode::kFirewallFailed, "apply rules of {}: base chains missing",
                        t.tap());
    }
    installed_[t.tap_id] = tenant_rules(t, options_);
    return ok();
  }
  Status remove_tenant(const TenantNet& t) override {
    LOB_TRY(take_failure());
    installed_.erase(t.tap_id);
    return ok();
  }
  Result<Report> verify(const std::vector<TenantNet>& tenants) override {
    Report r;
    if (!base_ready_) {
      r.findings.push_back({Finding::Kind::kMissingChain, Table::kFilter, "LOBSTER-FORWARD"});
    }
    std::map<uint32_t, bool> wanted;
    for (const auto& t : tenants) {
      wanted[t.tap_id] = true;
      auto it = installed_.find(t.tap_id);
      if (it == installed_.end() || !(it->second == tenant_rules(t, options_))) {
        for (const auto& rule : tenant_rules(t, options_).rules) {
          r.findings.push_back({Finding::Kind::kMissingRule, rule.table, rule.chain, rule.spec});
        }
      }
    }
    for (const auto& [id, rs] : installed_) {
      if (!wanted.contains(id)) {
        for (const auto& [table, chain] : rs.chains) {
          r.findings.push_back({Finding::Kind::kStaleChain, table, chain});
        }
      }
    }
    return r;
  }
  Result<Report> reconcile(const std::vector<TenantNet>& tenants) override {
    LOB_TRY(take_failure());
    Report r = LOB_TRY(verify(tenants));
    base_ready_ = true;
    installed_.clear();
    for (const auto& t : tenants) {
      installed_[t.tap_id] = tenant_rules(t, options_);
    }
    return r;
  }

  // Simulates a host reboot or `iptables -F`: everything is gone.
  void flush_for_test() {
    installed_.clear();
    base_ready_ = false;
  }
  void fail_next_for_test(Error e) { failure_ = std::move(e); }

  bool base_ready() const { return base_ready_; }
  const std::map<uint32_t, RuleSet>& installed() const { return installed_; }

 private:
  Status take_failure() {
    if (failure_) {
      Error e = std::move(*failure_);
      failure_.reset();
      return std::unexpected(std::move(e));
    }
    return ok();
  }

  Options options_;
  bool base_ready_ = false;
  std::map<uint32_t, RuleSet> installed_;
  std::optional<Error> failure_;
};

}  // namespace lobster::firewall::testing
