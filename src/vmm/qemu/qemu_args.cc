#include "vmm/qemu/qemu_args.h"

#include <algorithm>

namespace lobster::vmm::qemu {

int64_t bucket_rate_per_s(const TokenBucket& bucket) {
  int64_t refill = std::max<int64_t>(bucket.refill_time_ms, 1);
  return std::max<int64_t>(bucket.size * 1000 / refill, 1);
}

std::string throttle_options(const std::optional<RateLimiter>& limit) {
  if (!limit)
    return "";
  std::string out;
  auto add = [&out](const std::optional<TokenBucket>& b, const char* kind) {
    if (!b || b->size <= 0)
      return;
    int64_t rate = bucket_rate_per_s(*b);
    out += fmt::format(",throttling.{}-total={}", kind, rate);
    if (b->one_time_burst > 0) {
      // QEMU lets a bucket run at `-max` for `-max-length` seconds: one second at
      // average + burst spends the one-time budget once.
      out += fmt::format(",throttling.{}-total-max={},throttling.{}-total-max-length=1", kind,
                         rate + b->one_time_burst, kind);
    }
  };
  add(limit->bandwidth, "bps");
  add(limit->ops, "iops");
  return out;
}

int64_t tcg_memory_limit(int64_t memory_bytes) {
  return memory_bytes + (kTcgTranslationCacheMiB << 20);
}

std::vector<std::string> qemu_args(const VmSpec& spec, const Launch& launch) {
  std::vector<std::string> a = {launch.binary};
  auto add = [&a](std::initializer_list<std::string> items) {
    a.insert(a.end(), items.begin(), items.end());
  };
  add({"-name", "lobster-" + spec.id});
  // DESIGN.md: microvm needs the PIT, PIC and RTC (or isa-serial + rtc) to boot Debian's kernel.
  add({"-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on"});
  if (launch.kvm) {
    add({"-accel", "kvm", "-cpu", "host"});
  } else {
    add({"-accel", "tcg,tb-size=" + std::to_string(kTcgTranslationCacheMiB)});
  }
  add({"-m", std::to_string(spec.mem_mib) + "M", "-smp", std::to_string(spec.vcpus)});
  add({"-nodefaults", "-no-user-config", "-nographic", "-no-reboot"});
  add({"-kernel", spec.kernel});
  if (!spec.initramfs.empty())
    add({"-initrd", spec.initramfs});
  std::string cmdline = spec.cmdline;
  if (!launch.kvm && launch.tsc_khz > 0) {
    // Under TCG every vCPU reads the host's TSC (the caller only passes a rate when the host's
    // TSC is invariant), but calibration against the emulated PIT sometimes never finishes on a
    // loaded host: tell the kernel the rate. Its TSC sync check between emulated vCPUs fails
    // and would leave the guest on jiffies (4 ms clock, no vDSO: every clock read a syscall),
    // which made OpenClaw's 5 s start-up lease miss its deadline; tsc=reliable keeps the TSC.
    cmdline +=
        (cmdline.empty() ? "" : " ") + fmt::format("tsc_early_khz={} tsc=reliable", launch.tsc_khz);
  }
  add({"-append", cmdline});
  if (spec.console_socket_for_test.empty()) {
    add({"-chardev", "file,id=console,path=" + spec.console_log_path + ",append=on"});
  } else {
    add({"-chardev", "socket,id=console,path=" + spec.console_socket_for_test +
                         ",server=on,wait=off,logfile=" + spec.console_log_path + ",logappend=on"});
  }
  add({"-serial", "chardev:console"});
  add({"-chardev", "socket,id=qmp,path=" + launch.qmp_socket + ",server=on,wait=off"});
  add({"-mon", "chardev=qmp,mode=control"});
  for (size_t i = 0; i < spec.drives.size(); ++i) {
    const Drive& d = spec.drives[i];
    std::string id = "disk" + std::to_string(i);
    std::string file = d.path;
    if (i < launch.drive_fds.size()) {
      std::string set = std::to_string(i + 1);
      const auto& fds = launch.drive_fds[i];
      if (fds.read_only >= 0) {
        add({"-add-fd",
             "fd=" + std::to_string(fds.read_only) + ",set=" + set + ",opaque=" + id + "-ro"});
      }
      if (fds.read_write >= 0) {
        add({"-add-fd",
             "fd=" + std::to_string(fds.read_write) + ",set=" + set + ",opaque=" + id + "-rw"});
      }
      file = "/dev/fdset/" + set;
    }
    add({"-drive", "file=" + file + ",if=none,id=" + id + ",format=raw" +
                       (d.read_only ? ",readonly=on" : "") + throttle_options(d.limit)});
    add({"-device", "virtio-blk-device,drive=" + id});
  }
  if (spec.net && launch.tap_fd >= 0) {
    add({"-netdev", "tap,id=net0,fd=" + std::to_string(launch.tap_fd)});
    add({"-device", "virtio-net-device,netdev=net0" +
                        (spec.net->mac.empty() ? std::string() : ",mac=" + spec.net->mac)});
  }
  add({"-chroot", spec.jail.chroot_dir, "-runas",
       std::to_string(spec.jail.uid) + ":" + std::to_string(spec.jail.gid)});
  // DESIGN.md: elevateprivileges must stay "allow" for -runas; spawn=deny rules out exec:
  // migration and -daemonize.
  add({"-sandbox", "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny"});
  add({"-msg", "timestamp=on"});
  if (launch.incoming)
    add({"-S", "-incoming", "defer"});
  return a;
}

namespace {

std::optional<TokenBucket> bandwidth(const std::optional<RateLimiter>& r) {
  if (!r || !r->bandwidth || r->bandwidth->size <= 0)
    return std::nullopt;
  return r->bandwidth;
}

// tc's "bit" unit is bits per second; buckets are bytes.
std::string rate_bits(const TokenBucket& b) {
  return std::to_string(bucket_rate_per_s(b) * 8) + "bit";
}
// The burst must hold at least one full frame.
std::string burst_bytes(const TokenBucket& b) {
  return std::to_string(std::max<int64_t>(b.size + b.one_time_burst, 16384));
}

}  // namespace

TcPlan tc_plan(const std::string& tap, const std::optional<RateLimiter>& rx,
               const std::optional<RateLimiter>& tx) {
  TcPlan plan;
  plan.reset.push_back({"tc", "qdisc", "del", "dev", tap, "root"});
  plan.reset.push_back({"tc", "qdisc", "del", "dev", tap, "ingress"});
  if (auto b = bandwidth(rx)) {
    plan.rx.push_back({"tc", "qdisc", "add", "dev", tap, "root", "tbf", "rate", rate_bits(*b),
                       "burst", burst_bytes(*b), "latency", "50ms"});
  }
  if (auto b = bandwidth(tx)) {
    plan.tx.push_back({"tc", "qdisc", "add", "dev", tap, "handle", "ffff:", "ingress"});
    plan.tx.push_back(
        {"tc",       "filter", "add",    "dev",  tap,           "parent", "ffff:",
         "protocol", "all",    "prio",   "1",    "u32",         "match",  "u32",
         "0",        "0",      "police", "rate", rate_bits(*b), "burst",  burst_bytes(*b),
         "drop",     "flowid", ":1"});
    plan.tx_undo = {"tc", "qdisc", "del", "dev", tap, "ingress"};
  }
  return plan;
}

}  // namespace lobster::vmm::qemu
