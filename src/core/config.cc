#include "core/config.h"

#include <arpa/inet.h>

#include <set>

#include "core/fs.h"

namespace lobster {
namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  if (v.is_null())
    return "null";
  if (v.is_boolean())
    return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned())
    return "an integer";
  if (v.is_number())
    return "a number";
  if (v.is_string())
    return "a string";
  if (v.is_array())
    return "an array";
  return "an object";
}

// Reads one JSON object, remembering which keys were consumed so finish() can reject the rest.
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Status check_object() const {
    if (!obj_.is_object()) {
      return fail(path_.empty() ? "(top level)" : path_, "expected an object", obj_);
    }
    return ok();
  }

  Status integer(const char* key, int64_t& out, int64_t min, int64_t max) {
    const json* v = take(key);
    if (v == nullptr)
      return ok();
    if (!v->is_number_integer() && !v->is_number_unsigned()) {
      return fail(key_path(key), range_text(min, max), *v);
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return fail(key_path(key), range_text(min, max), *v);
    }
    int64_t x = v->get<int64_t>();
    if (x < min || x > max) {
      return fail(key_path(key), range_text(min, max), *v);
    }
    out = x;
    return ok();
  }

  Status string(const char* key, std::string& out, bool non_empty = true) {
    const json* v = take(key);
    if (v == nullptr)
      return ok();
    if (!v->is_string() || (non_empty && v->get<std::string>().empty())) {
      return fail(key_path(key), non_empty ? "expected a non-empty string" : "expected a string",
                  *v);
    }
    out = v->get<std::string>();
    return ok();
  }

  Status boolean(const char* key, bool& out) {
    const json* v = take(key);
    if (v == nullptr)
      return ok();
    if (!v->is_boolean()) {
      return fail(key_path(key), "expected a boolean", *v);
    }
    out = v->get<bool>();
    return ok();
  }

  // Returns the sub-object (or nullptr if absent) after checking its type.
  Result<const json*> object(const char* key) {
    const json* v = take(key);
    if (v == nullptr)
      return nullptr;
    if (!v->is_object()) {
      return fail(key_path(key), "expected an object", *v);
    }
    return v;
  }

  Status finish() const {
    for (const auto& [k, v] : obj_.items()) {
      if (!seen_.contains(k)) {
        return make_error(ErrorCode::kConfigInvalid, "{}: unknown key", key_path(k.c_str()));
      }
    }
    return ok();
  }

  std::string key_path(const char* key) const {
    return path_.empty() ? std::string(key) : path_ + "." + key;
  }

 private:
  const json* take(const char* key) {
    seen_.insert(key);
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  static std::string range_text(int64_t min, int64_t max) {
    if (max == INT64_MAX)
      return fmt::format("expected an integer >= {}", min);
    return fmt::format("expected an integer in {}..{}", min, max);
  }
  static std::unexpected<Error> fail(const std::string& path, const std::string& expected,
                                     const json& got) {
    std::string shown = got.dump();
    if (shown.size() > 60)
      shown = shown.substr(0, 57) + "...";
    Error e{ErrorCode::kConfigInvalid,
            fmt::format("{}: {}, got {} ({})", path, expected, type_of(got), shown)};
    e.hint = "fix that key in the config file (see README \"Configuration\")";
    return std::unexpected<Error>(std::move(e));
  }

  const json& obj_;
  std::string path_;
  std::set<std::string> seen_;
};

Status read_bucket(const json& j, const std::string& path, TokenBucket& out) {
  ObjectReader r(j, path);
  LOB_TRY(r.check_object());
  if (!j.contains("size") || !j.contains("refillTime")) {
    return make_error(ErrorCode::kConfigInvalid, "{}: expected keys size and refillTime", path);
  }
  LOB_TRY(r.integer("size", out.size, 0, INT64_MAX));
  LOB_TRY(r.integer("oneTimeBurst", out.one_time_burst, 0, INT64_MAX));
  LOB_TRY(r.integer("refillTime", out.refill_time_ms, 1, INT64_MAX));
  return r.finish();
}

Status read_limiter(ObjectReader& parent, const char* key, std::optional<RateLimiter>& out) {
  const json* j = LOB_TRY(parent.object(key));
  if (j == nullptr)
    return ok();
  std::string path = parent.key_path(key);
  ObjectReader r(*j, path);
  RateLimiter rl;
  for (const char* sub : {"bandwidth", "ops"}) {
    const json* b = LOB_TRY(r.object(sub));
    if (b != nullptr) {
      TokenBucket tb;
      LOB_TRY(read_bucket(*b, path + "." + sub, tb));
      (std::string_view(sub) == "bandwidth" ? rl.bandwidth : rl.ops) = tb;
    }
  }
  LOB_TRY(r.finish());
  out = rl;
  return ok();
}

json bucket_json(const TokenBucket& b) {
  return {{"size", b.size}, {"oneTimeBurst", b.one_time_burst}, {"refillTime", b.refill_time_ms}};
}

json limiter_json(const RateLimiter& rl) {
  json j = json::object();
  if (rl.bandwidth)
    j["bandwidth"] = bucket_json(*rl.bandwidth);
  if (rl.ops)
    j["ops"] = bucket_json(*rl.ops);
  return j;
}

RateLimiter net_default() { return {TokenBucket{1250000, 0, 1000}, TokenBucket{1000, 0, 1000}}; }

// Applies one section's keys onto `cfg`; each section is a small function for readability.
using Section = Status (*)(ObjectReader&, Config&);

Status read_jailer(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("binaryPath", c.jailer.binary_path));
  LOB_TRY(r.string("chrootBaseDir", c.jailer.chroot_base_dir));
  return r.integer("uidStart", c.jailer.uid_start, 1000, 4'000'000'000);
}

Status read_firecracker(ObjectReader& r, Config& c) {
  auto& f = c.firecracker;
  LOB_TRY(r.string("binaryPath", f.binary_path));
  LOB_TRY(r.string("kernelPath", f.kernel_path, false));
  LOB_TRY(r.string("rootfsPath", f.rootfs_path, false));
  LOB_TRY(r.integer("defaultVcpuCount", f.default_vcpu_count, 1, 32));
  LOB_TRY(r.integer("defaultMemSizeMb", f.default_mem_size_mb, 128, 1 << 20));
  LOB_TRY(read_limiter(r, "networkRxRateLimit", f.network_rx_rate_limit));
  LOB_TRY(read_limiter(r, "networkTxRateLimit", f.network_tx_rate_limit));
  return read_limiter(r, "diskRateLimit", f.disk_rate_limit);
}

Status read_network(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("bridgeName", c.network.bridge_name));
  LOB_TRY(r.string("subnetBase", c.network.subnet_base));
  in_addr a{};
  if (inet_pton(AF_INET, c.network.subnet_base.c_str(), &a) != 1) {
    return make_error(ErrorCode::kConfigInvalid,
                      "network.subnetBase: expected a dotted IPv4 address, got \"{}\"",
                      c.network.subnet_base);
  }
  LOB_TRY(r.integer("subnetMask", c.network.subnet_mask, 8, 30));
  return r.integer("gatewayPortStart", c.network.gateway_port_start, 1024, 65535);
}

Status read_caddy(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("adminApi", c.caddy.admin_api));
  LOB_TRY(r.string("domain", c.caddy.domain));
  const json* tls = LOB_TRY(r.object("tls"));
  if (tls != nullptr) {
    ObjectReader t(*tls, "caddy.tls");
    std::string cert, key;
    LOB_TRY(t.string("certPath", cert));
    LOB_TRY(t.string("keyPath", key));
    LOB_TRY(t.finish());
    if (cert.empty() || key.empty()) {
      return make_error(ErrorCode::kConfigInvalid, "caddy.tls: expected certPath and keyPath");
    }
    c.caddy.tls_cert_path = cert;
    c.caddy.tls_key_path = key;
  }
  LOB_TRY(r.boolean("external", c.caddy.external));
  LOB_TRY(r.string("binaryPath", c.caddy.binary_path));
  LOB_TRY(r.integer("httpPort", c.caddy.http_port, 1, 65535));
  return r.integer("httpsPort", c.caddy.https_port, 1, 65535);
}

Status read_vsock(ObjectReader& r, Config& c) {
  LOB_TRY(r.integer("agentPort", c.vsock.agent_port, 1, 65535));
  LOB_TRY(r.integer("connectTimeoutMs", c.vsock.connect_timeout_ms, 1000, INT64_MAX));
  return r.integer("healthPort", c.vsock.health_port, 1, 65535);
}

Status read_overlay(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("baseDir", c.overlay.base_dir));
  LOB_TRY(r.integer("defaultSizeMb", c.overlay.default_size_mb, 256, 1 << 24));
  return r.integer("snapshotRetention", c.overlay.snapshot_retention, 0, INT64_MAX);
}

Status read_watchdog(ObjectReader& r, Config& c) {
  auto& w = c.watchdog;
  LOB_TRY(r.boolean("enabled", w.enabled));
  LOB_TRY(r.boolean("idleSuspend", w.idle_suspend));
  LOB_TRY(r.integer("intervalMs", w.interval_ms, 1000, INT64_MAX));
  LOB_TRY(r.integer("maxRepairAttempts", w.max_repair_attempts, 1, INT64_MAX));
  LOB_TRY(r.integer("repairCooldownMs", w.repair_cooldown_ms, 0, INT64_MAX));
  LOB_TRY(r.integer("idleThresholdMs", w.idle_threshold_ms, 0, INT64_MAX));
  LOB_TRY(r.integer("cronWakeAheadMs", w.cron_wake_ahead_ms, 0, INT64_MAX));
  return r.integer("trafficPollMs", w.traffic_poll_ms, 1000, INT64_MAX);
}

Status read_ingress(ObjectReader& r, Config& c) {
  LOB_TRY(r.integer("wakeTimeoutMs", c.ingress.wake_timeout_ms, 100, 600'000));
  LOB_TRY(r.integer("maxWaitingPerTenant", c.ingress.max_waiting_per_tenant, 1, 100'000));
  return r.integer("askPort", c.ingress.ask_port, 1, 65535);
}

Status read_openclaw(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("installPath", c.openclaw.install_path));
  const json* d = LOB_TRY(r.object("defaultConfig"));
  if (d != nullptr)
    c.openclaw.default_config = *d;
  return ok();
}

Status read_buoy(ObjectReader& r, Config& c) {
  Config::Buoy b;
  LOB_TRY(r.integer("port", b.port, 1, 65535));
  LOB_TRY(r.string("host", b.host));
  LOB_TRY(r.string("apiToken", b.api_token, false));
  LOB_TRY(r.boolean("agentLockdown", b.agent_lockdown));
  c.buoy = b;
  return ok();
}

Status read_vmm(ObjectReader& r, Config& c) {
  std::string driver = std::string(vmm_driver_name(c.vmm.driver));
  LOB_TRY(r.string("driver", driver));
  if (driver == "auto") {
    c.vmm.driver = VmmDriverKind::kAuto;
  } else if (driver == "qemu") {
    c.vmm.driver = VmmDriverKind::kQemu;
  } else if (driver == "firecracker") {
    c.vmm.driver = VmmDriverKind::kFirecracker;
  } else {
    return make_error(ErrorCode::kConfigInvalid,
                      "vmm.driver: expected one of auto|qemu|firecracker, got \"{}\"", driver);
  }
  return r.string("qemuBinary", c.vmm.qemu_binary);
}

Status read_image(ObjectReader& r, Config& c) {
  LOB_TRY(r.string("defaultProfile", c.image.default_profile));
  if (c.image.default_profile != "openclaw" && c.image.default_profile != "minimal") {
    return make_error(ErrorCode::kConfigInvalid,
                      "image.defaultProfile: expected one of openclaw|minimal, got \"{}\"",
                      c.image.default_profile);
  }
  return ok();
}

}  // namespace

std::string_view vmm_driver_name(VmmDriverKind kind) {
  switch (kind) {
    case VmmDriverKind::kAuto:
      return "auto";
    case VmmDriverKind::kQemu:
      return "qemu";
    case VmmDriverKind::kFirecracker:
      return "firecracker";
  }
  return "auto";
}

Config Config::defaults(const Paths& paths) {
  Config c;
  c.jailer.chroot_base_dir = paths.jail_dir();
  c.overlay.base_dir = paths.overlays_dir();
  c.firecracker.network_rx_rate_limit = net_default();
  c.firecracker.network_tx_rate_limit = net_default();
  c.firecracker.disk_rate_limit =
      RateLimiter{TokenBucket{52428800, 0, 1000}, TokenBucket{5000, 0, 1000}};
  c.openclaw.default_config = {
      {"gateway",
       {{"mode", "local"},
        {"bind", "custom"},
        // OpenClaw >= 2026.2 refuses bind=custom without a host; 0.0.0.0 keeps the gateway
        // reachable from the proxy (guest IP) and from in-guest tools (127.0.0.1).
        {"customBindHost", "0.0.0.0"},
        {"port", 9000},
        {"auth", {{"mode", "token"}}}}}};
  return c;
}

Result<Config> parse_config(std::string_view text, const Paths& paths) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/false);
  if (root.is_discarded()) {
    // Re-parse with exceptions only to get the parser's position message.
    std::string why = "invalid JSON";
    try {
      json discard = json::parse(text);
      (void)discard;
    } catch (const json::parse_error& e) {
      why = e.what();
    }
    return with_hint(Error{ErrorCode::kConfigInvalid, "config is not valid JSON: " + why},
                     "fix the JSON syntax of the config file");
  }
  Config cfg = Config::defaults(paths);
  ObjectReader top(root, "");
  LOB_TRY(top.check_object());
  static constexpr std::pair<const char*, Section> kSections[] = {
      {"jailer", read_jailer},     {"firecracker", read_firecracker},
      {"network", read_network},   {"caddy", read_caddy},
      {"vsock", read_vsock},       {"overlay", read_overlay},
      {"watchdog", read_watchdog}, {"openclaw", read_openclaw},
      {"buoy", read_buoy},         {"vmm", read_vmm},
      {"image", read_image},       {"ingress", read_ingress},
  };
  for (const auto& [name, read] : kSections) {
    const json* sub = LOB_TRY(top.object(name));
    if (sub == nullptr)
      continue;
    ObjectReader r(*sub, name);
    LOB_TRY(read(r, cfg));
    LOB_TRY(r.finish());
  }
  LOB_TRY(top.finish());
  return cfg;
}

Result<Config> load_config(const Paths& paths) {
  if (!fs::exists(paths.config_file())) {
    return Config::defaults(paths);
  }
  auto text = fs::read_file(paths.config_file());
  if (!text) {
    Error e = text.error();
    e.code = ErrorCode::kConfigNotFound;
    e.hint = "check that " + paths.config_file() + " is readable (run as root?)";
    return make_error(std::move(e));
  }
  auto cfg = parse_config(*text, paths);
  if (!cfg) {
    Error e = cfg.error();
    e.message = paths.config_file() + ": " + e.message;
    return make_error(std::move(e));
  }
  return cfg;
}

nlohmann::json config_to_json(const Config& c) {
  json j;
  j["jailer"] = {{"binaryPath", c.jailer.binary_path},
                 {"chrootBaseDir", c.jailer.chroot_base_dir},
                 {"uidStart", c.jailer.uid_start}};
  json fc = {{"binaryPath", c.firecracker.binary_path},
             {"kernelPath", c.firecracker.kernel_path},
             {"rootfsPath", c.firecracker.rootfs_path},
             {"defaultVcpuCount", c.firecracker.default_vcpu_count},
             {"defaultMemSizeMb", c.firecracker.default_mem_size_mb}};
  if (c.firecracker.network_rx_rate_limit) {
    fc["networkRxRateLimit"] = limiter_json(*c.firecracker.network_rx_rate_limit);
  }
  if (c.firecracker.network_tx_rate_limit) {
    fc["networkTxRateLimit"] = limiter_json(*c.firecracker.network_tx_rate_limit);
  }
  if (c.firecracker.disk_rate_limit) {
    fc["diskRateLimit"] = limiter_json(*c.firecracker.disk_rate_limit);
  }
  j["firecracker"] = fc;
  j["network"] = {{"bridgeName", c.network.bridge_name},
                  {"subnetBase", c.network.subnet_base},
                  {"subnetMask", c.network.subnet_mask},
                  {"gatewayPortStart", c.network.gateway_port_start}};
  json caddy = {{"adminApi", c.caddy.admin_api}, {"domain", c.caddy.domain},
                {"external", c.caddy.external},  {"binaryPath", c.caddy.binary_path},
                {"httpPort", c.caddy.http_port}, {"httpsPort", c.caddy.https_port}};
  if (c.caddy.tls_cert_path && c.caddy.tls_key_path) {
    caddy["tls"] = {{"certPath", *c.caddy.tls_cert_path}, {"keyPath", *c.caddy.tls_key_path}};
  }
  j["caddy"] = caddy;
  j["vsock"] = {{"agentPort", c.vsock.agent_port},
                {"connectTimeoutMs", c.vsock.connect_timeout_ms},
                {"healthPort", c.vsock.health_port}};
  j["overlay"] = {{"baseDir", c.overlay.base_dir},
                  {"defaultSizeMb", c.overlay.default_size_mb},
                  {"snapshotRetention", c.overlay.snapshot_retention}};
  j["watchdog"] = {{"enabled", c.watchdog.enabled},
                   {"idleSuspend", c.watchdog.idle_suspend},
                   {"intervalMs", c.watchdog.interval_ms},
                   {"maxRepairAttempts", c.watchdog.max_repair_attempts},
                   {"repairCooldownMs", c.watchdog.repair_cooldown_ms},
                   {"idleThresholdMs", c.watchdog.idle_threshold_ms},
                   {"cronWakeAheadMs", c.watchdog.cron_wake_ahead_ms},
                   {"trafficPollMs", c.watchdog.traffic_poll_ms}};
  j["openclaw"] = {{"installPath", c.openclaw.install_path},
                   {"defaultConfig", c.openclaw.default_config}};
  if (c.buoy) {
    j["buoy"] = {{"port", c.buoy->port},
                 {"host", c.buoy->host},
                 {"apiToken", c.buoy->api_token},
                 {"agentLockdown", c.buoy->agent_lockdown}};
  }
  j["vmm"] = {{"driver", vmm_driver_name(c.vmm.driver)}, {"qemuBinary", c.vmm.qemu_binary}};
  j["image"] = {{"defaultProfile", c.image.default_profile}};
  j["ingress"] = {{"wakeTimeoutMs", c.ingress.wake_timeout_ms},
                  {"maxWaitingPerTenant", c.ingress.max_waiting_per_tenant},
                  {"askPort", c.ingress.ask_port}};
  return j;
}

Status save_config(const Paths& paths, const Config& cfg) {
  LOB_TRY(fs::ensure_dir(paths.config_dir, 0711));
  return fs::write_file_atomic(paths.config_file(), config_to_json(cfg).dump(2) + "\n", 0600);
}

}  // namespace lobster
