// Config: lobsterd's JSON configuration (<config_dir>/config.json).
//
// Every key of the original (spec §2) is accepted with the same camelCase name; keys the C++
// implementation does not use are documented as "ignored" below and kept only for file
// compatibility. Validation is strict: unknown keys, wrong types and out-of-range values fail
// with kConfigInvalid and a message naming the key path ("watchdog.intervalMs: expected an
// integer >= 1000, got 5"). A missing file means "all defaults". Writes are atomic and 0600.
//
//   auto cfg = LOB_TRY(load_config(paths));
//   cfg.caddy.domain = "example.com";
//   LOB_TRY(save_config(paths, cfg));
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/paths.h"

namespace lobster {

struct TokenBucket {
  int64_t size = 0;            // bytes or operations per refill
  int64_t one_time_burst = 0;  // initial extra budget
  int64_t refill_time_ms = 1000;
  bool operator==(const TokenBucket&) const = default;
};

struct RateLimiter {
  std::optional<TokenBucket> bandwidth;
  std::optional<TokenBucket> ops;
  bool operator==(const RateLimiter&) const = default;
};

enum class VmmDriverKind { kAuto, kQemu, kFirecracker };

struct Config {
  struct Jailer {
    std::string binary_path = "/usr/local/bin/jailer";
    std::string chroot_base_dir;  // default: <data_dir>/jail
    int64_t uid_start = 10000;    // first tenant uid (allocator)
  } jailer;
  struct Firecracker {
    std::string binary_path = "/usr/local/bin/firecracker";
    std::string kernel_path;  // override; "" = the image profile's vmlinux
    std::string rootfs_path;  // override; "" = the image profile's rootfs
    int64_t default_vcpu_count = 2;
    int64_t default_mem_size_mb = 1024;
    std::optional<RateLimiter> network_rx_rate_limit;
    std::optional<RateLimiter> network_tx_rate_limit;
    std::optional<RateLimiter> disk_rate_limit;
  } firecracker;
  struct Network {
    std::string bridge_name = "lobster0";  // ignored (no bridge)
    std::string subnet_base = "10.0.0.0";
    int64_t subnet_mask = 30;           // ignored (/30 per tenant is fixed)
    int64_t gateway_port_start = 9000;  // ignored (no public port per tenant)
  } network;
  struct Caddy {
    std::string admin_api = "http://localhost:2019";  // used only with caddy.external
    std::string domain = "lobster.localhost";
    std::optional<std::string> tls_cert_path;  // caddy.tls.certPath
    std::optional<std::string> tls_key_path;   // caddy.tls.keyPath
    bool external = false;  // true: use an operator-run Caddy at adminApi instead of our own
    std::string binary_path = "/usr/bin/caddy";
    int64_t http_port = 80;
    int64_t https_port = 443;
  } caddy;
  struct Vsock {  // historical name: the agent is reached over TCP
    int64_t agent_port = 52;
    int64_t connect_timeout_ms = 30000;
    int64_t health_port = 53;
  } vsock;
  struct Overlay {
    std::string base_dir;  // default: <data_dir>/overlays
    int64_t default_size_mb = 4096;
    int64_t snapshot_retention = 7;  // ignored
  } overlay;
  struct Watchdog {
    bool enabled = true;  // false: no watchdog, idle suspend or wake timers (tests, debugging)
    // Idle auto-suspend (idleThresholdMs, trafficPollMs). Off by default until requests can
    // wake a suspended tenant (the ingress): without it a suspended tenant's URL answers 502.
    bool idle_suspend = false;
    int64_t interval_ms = 10000;
    int64_t max_repair_attempts = 3;
    int64_t repair_cooldown_ms = 60000;
    int64_t idle_threshold_ms = 10000;
    int64_t cron_wake_ahead_ms = 15000;
    int64_t traffic_poll_ms = 5000;
  } watchdog;
  struct Openclaw {
    std::string install_path = "/opt/openclaw";  // ignored (fixed path in the guest image)
    nlohmann::json default_config;
  } openclaw;
  struct Buoy {
    int64_t port = 7070;
    std::string host = "127.0.0.1";
    std::string api_token;  // secret: only in this 0600 file
    bool agent_lockdown = true;
  };
  std::optional<Buoy> buoy;
  struct Vmm {
    VmmDriverKind driver = VmmDriverKind::kAuto;
    std::string qemu_binary = "/usr/bin/qemu-system-x86_64";
  } vmm;
  struct Image {
    std::string default_profile = "openclaw";  // "openclaw" | "minimal"
  } image;
  struct Ingress {                        // lobsterd's router behind Caddy (src/ingress/server.h)
    int64_t wake_timeout_ms = 30000;      // a request for a suspended tenant waits this long
    int64_t max_waiting_per_tenant = 64;  // held connections per waking tenant, then 503
    // Public domains without caddy.tls get certificates on demand; Caddy asks
    // http://127.0.0.1:<askPort>/v1/ask?domain=<name> (served by the ingress) first.
    int64_t ask_port = 7071;
  } ingress;

  // Defaults with path keys filled in from `paths`.
  static Config defaults(const Paths& paths);
};

// Parses and validates JSON text. Missing keys take defaults from `paths`.
Result<Config> parse_config(std::string_view text, const Paths& paths);
// Reads <config_file>; a missing file yields defaults. Unreadable -> kConfigNotFound.
Result<Config> load_config(const Paths& paths);
// Serialises every key (2-space indent, trailing newline).
nlohmann::json config_to_json(const Config& cfg);
// Atomic write (temp + fsync + rename), mode 0600.
Status save_config(const Paths& paths, const Config& cfg);

std::string_view vmm_driver_name(VmmDriverKind kind);

}  // namespace lobster
