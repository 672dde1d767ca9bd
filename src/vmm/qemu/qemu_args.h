// Pure builders for everything the qemu driver executes: the QEMU command line and the `tc`
// commands that rate-limit the tenant TAP. Tests compare them exactly; only the driver runs
// them (jail::spawn, ProcessRunner).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "vmm/vmm.h"

namespace lobster::vmm::qemu {

// QEMU's TCG translation-block cache, in MiB. QEMU 7.2's default is 1 GiB, filled as the
// guest runs new code: a JIT-heavy guest (OpenClaw's Node) grows the VMM far beyond its guest
// RAM and its cgroup OOM-kills it (issue 21). The cache is bounded explicitly and counted in
// the VMM's memory limit (tcg_memory_limit). Measured with bench/vmm: see bench/README.md.
inline constexpr int64_t kTcgTranslationCacheMiB = 256;

// The VMM's memory limit under TCG: `limits.memory_bytes` (guest RAM + VMM overhead,
// vmm::default_limits) plus the bounded translation cache.
int64_t tcg_memory_limit(int64_t memory_bytes);

// Per-launch facts that are not part of the VmSpec.
struct Launch {
  std::string binary = "/usr/bin/qemu-system-x86_64";
  bool kvm = false;     // -accel kvm (probe said KVM boots guests) else TCG with
                        // tb-size=kTcgTranslationCacheMiB
  int64_t tsc_khz = 0;  // TCG only: host TSC rate, passed as tsc_early_khz (0 = omit)
  int tap_fd = -1;      // fd number of the opened TAP in the child; -1 = no network
  // Per drive, the child fd numbers of the image opened read-only and (for writable drives)
  // read-write; QEMU gets them as an fd set (-add-fd, file=/dev/fdset/N). After -chroot QEMU
  // cannot open the image path again, yet inactivating a writable drive for migration and
  // re-activating it reopen it with other access modes: the fd set serves those reopens.
  // Empty = QEMU opens the paths itself (only safe for read-only drives).
  struct DriveFds {
    int read_only = -1;
    int read_write = -1;
  };
  std::vector<DriveFds> drive_fds;
  std::string qmp_socket;  // QMP Unix socket path (QEMU creates it before dropping root)
  bool incoming = false;   // restore: -incoming defer, guest stays paused until `cont`
};

// QEMU microvm command line for `spec` (argv[0] = launch.binary).
std::vector<std::string> qemu_args(const VmSpec& spec, const Launch& launch);

// QEMU drive throttling options equivalent to a Firecracker-style token bucket:
// average = size per refill time; one_time_burst becomes a 1 s burst above the average.
// Returns "" when `limit` is empty, else ",throttling.bps-total=...,..." to append.
std::string throttle_options(const std::optional<RateLimiter>& limit);

// Bytes (or ops) per second of a token bucket, rounded down, at least 1.
int64_t bucket_rate_per_s(const TokenBucket& bucket);

// `tc` argvs that make `tap`'s traffic match the token buckets: tbf on the TAP's root qdisc
// for host->guest (`rx`), a u32 policer on its ingress qdisc for guest->host (`tx`). Only
// bandwidth buckets are enforced; packet-rate (ops) buckets are not.
struct TcPlan {
  std::vector<std::vector<std::string>> reset;  // delete old qdiscs; failures are harmless
  std::vector<std::vector<std::string>> rx;     // required
  // The policer needs the act_police kernel module, which some hosts lack; the driver then
  // runs `tx_undo`, logs a warning and runs the guest without a guest->host limit.
  std::vector<std::vector<std::string>> tx;
  std::vector<std::string> tx_undo;
};
TcPlan tc_plan(const std::string& tap, const std::optional<RateLimiter>& rx,
               const std::optional<RateLimiter>& tx);

}  // namespace lobster::vmm::qemu
