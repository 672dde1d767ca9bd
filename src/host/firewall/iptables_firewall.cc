#include "host/firewall/iptables_firewall.h"

#include "core/fs.h"
#include "core/log.h"
#include "host/net/sysctl.h"

namespace lobster::firewall {

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::kNft:
      return "nft";
    case Backend::kLegacy:
      return "legacy";
  }
  return "nft";
}

namespace {

std::string tool(Backend backend, std::string_view what) {
  return fmt::format("iptables-{}-{}", backend_name(backend), what);
}

bool has_rules(const std::string& save_text) {
  return save_text.find("\n-A ") != std::string::npos || save_text.starts_with("-A ");
}

}  // namespace

Result<Backend> detect_backend(process::ProcessRunner& runner) {
  bool nft = process::find_executable(tool(Backend::kNft, "restore")).has_value();
  bool legacy = process::find_executable(tool(Backend::kLegacy, "restore")).has_value();
  if (!nft && !legacy) {
    return make_error(ErrorCode::kPreflightFailed,
                      "neither iptables-nft-restore nor iptables-legacy-restore is installed");
  }
  if (!nft || !legacy) {
    return nft ? Backend::kNft : Backend::kLegacy;
  }
  // Packets traverse both backends' hooks; a legacy FORWARD DROP would drop what our nft
  // rules accept, so follow whichever backend the host's firewall already uses.
  auto legacy_save = runner.run({tool(Backend::kLegacy, "save")}, {.timeout_ms = 10'000});
  auto nft_save = runner.run({tool(Backend::kNft, "save")}, {.timeout_ms = 10'000});
  bool legacy_used = legacy_save.has_value() && legacy_save->ok() && has_rules(legacy_save->out);
  bool nft_used = nft_save.has_value() && nft_save->ok() && has_rules(nft_save->out);
  if (legacy_used && !nft_used) {
    return Backend::kLegacy;
  }
  return Backend::kNft;
}

Result<std::string> IptablesFirewall::save() {
  auto r = LOB_TRY(
      runner_.run_checked({tool(settings_.backend, "save")}, {.timeout_ms = settings_.timeout_ms}));
  return std::move(r.out);
}

Result<SaveState> IptablesFirewall::read_state() {
  std::string text = LOB_TRY(save());
  return parse_save(text);
}

Status IptablesFirewall::restore(std::string batch, const std::string& what) {
  if (batch.empty()) {
    return ok();
  }
  if (batch_filter_) {
    batch = batch_filter_(std::move(batch));
  }
  // -w: legacy iptables serialises on the xtables lock; wait for it rather than fail.
  auto r = runner_.run({tool(settings_.backend, "restore"), "-w", "5", "--noflush"},
                       {.stdin_data = batch, .timeout_ms = settings_.timeout_ms});
  if (!r.has_value()) {
    Error e = r.error();
    e.code = ErrorCode::kFirewallFailed;
    e.message = what + ": " + e.message;
    return std::unexpected(e);
  }
  if (!r->ok()) {
    Error e{ErrorCode::kFirewallFailed,
            fmt::format("{}: iptables-restore failed (exit {})", what, r->exit_code)};
    e.detail = r->err;
    return std::unexpected(e);
  }
  return ok();
}

Status IptablesFirewall::ensure_ip_forward() {
  const std::string key = "net/ipv4/ip_forward";
  std::string before = LOB_TRY(net::read_sysctl(settings_.proc_sys, key));
  if (before == "1") {
    return ok();
  }
  if (!settings_.ip_forward_record.empty() && !fs::exists(settings_.ip_forward_record)) {
    LOB_TRY(fs::write_file_atomic(settings_.ip_forward_record, before + "\n", 0600));
  }
  LOB_TRY(net::ensure_sysctl(settings_.proc_sys, key, "1"));
  prior_ip_forward_ = before;
  log::info("firewall.ip_forward_enabled", {{"previous", before}});
  return ok();
}

Status IptablesFirewall::ensure_base() {
  SaveState state = LOB_TRY(read_state());
  // A plan with an empty tenant scope touches only base chains and jumps.
  TenantNet nobody{.tap_id = UINT32_MAX};
  Plan p = plan(state, {}, Scope{.tenant = nobody});
  LOB_TRY(restore(p.batch, "ensure firewall base chains"));
  return ensure_ip_forward();
}

Status IptablesFirewall::apply_tenant(const TenantNet& tenant) {
  RuleSet rs = tenant_rules(tenant, settings_.options);
  // Fast path: `-N` makes the batch fail atomically if any of the tenant's chains exists, so it
  // can never duplicate a dispatch rule; no state has to be read (cost independent of the
  // number of tenants).
  Status fast = restore(add_batch(rs), "apply rules of " + tenant.tap());
  if (fast.has_value()) {
    return ok();
  }
  // Slow path: the tenant is (partly) there, or the batch is bad. Replace exactly what exists.
  SaveState state = LOB_TRY(read_state());
  Plan p = plan(state, {rs}, Scope{.tenant = tenant});
  if (p.batch.empty()) {
    return ok();
  }
  bool had_any = false;
  for (const auto& [table, chain] : rs.chains) {
    had_any = had_any || state.table(table).has_chain(chain);
  }
  if (!had_any) {
    return fast;  // nothing of the tenant existed: the first failure is the real one
  }
  return restore(p.batch, "replace rules of " + tenant.tap());
}

Status IptablesFirewall::remove_tenant(const TenantNet& tenant) {
  RuleSet rs = tenant_rules(tenant, settings_.options);
  Status fast = restore(remove_batch(rs), "remove rules of " + tenant.tap());
  if (fast.has_value()) {
    return ok();
  }
  SaveState state = LOB_TRY(read_state());
  Plan p = plan(state, {}, Scope{.tenant = tenant});
  return restore(p.batch, "remove remaining rules of " + tenant.tap());
}

Result<Report> IptablesFirewall::verify(const std::vector<TenantNet>& tenants) {
  SaveState state = LOB_TRY(read_state());
  std::vector<RuleSet> sets;
  sets.reserve(tenants.size());
  for (const auto& t : tenants) {
    sets.push_back(tenant_rules(t, settings_.options));
  }
  return plan(state, sets, Scope{}).report;
}

Result<Report> IptablesFirewall::reconcile(const std::vector<TenantNet>& tenants) {
  SaveState state = LOB_TRY(read_state());
  std::vector<RuleSet> sets;
  sets.reserve(tenants.size());
  for (const auto& t : tenants) {
    sets.push_back(tenant_rules(t, settings_.options));
  }
  Plan p = plan(state, sets, Scope{});
  LOB_TRY(restore(p.batch, "reconcile firewall"));
  LOB_TRY(ensure_ip_forward());
  if (!p.report.clean()) {
    log::warn("firewall.reconciled",
              {{"findings", p.report.findings.size()}, {"summary", p.report.summary()}});
  }
  return p.report;
}

}  // namespace lobster::firewall
