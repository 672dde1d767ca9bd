#include "vmm/qemu/qemu_args.h"

#include <gtest/gtest.h>

namespace lobster::vmm::qemu {
namespace {

VmSpec sample_spec() {
  VmSpec s;
  s.id = "t1";
  s.kernel = "/img/vmlinux";
  s.initramfs = "/img/initrd";
  s.cmdline = "console=ttyS0 reboot=k panic=1 quiet";
  s.vcpus = 2;
  s.mem_mib = 1024;
  s.limits = default_limits(2, 1024);
  s.jail = {10001, 10001, "/jail/t1"};
  s.console_log_path = "/log/t1/console.log";
  s.vmm_log_path = "/log/t1/vmm.log";
  s.run_dir = "/run/t/t1";
  RateLimiter disk{TokenBucket{52428800, 0, 1000}, TokenBucket{5000, 0, 1000}};
  s.drives = {{"/img/rootfs.ext4", true, disk}, {"/ovl/t1.ext4", false, std::nullopt}};
  s.net = NetIface{"lt1", "06:00:0a:00:00:02", std::nullopt, std::nullopt};
  return s;
}

TEST(QemuArgs, TcgCommandLineIsExact) {
  Launch l;
  l.kvm = false;
  l.tsc_khz = 2596134;
  l.tap_fd = 3;
  l.qmp_socket = "/run/t/t1/qmp.sock";
  std::vector<std::string> want = {
      "/usr/bin/qemu-system-x86_64",
      "-name",
      "lobster-t1",
      "-M",
      "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on",
      "-accel",
      "tcg,tb-size=256",
      "-m",
      "1024M",
      "-smp",
      "2",
      "-nodefaults",
      "-no-user-config",
      "-nographic",
      "-no-reboot",
      "-kernel",
      "/img/vmlinux",
      "-initrd",
      "/img/initrd",
      "-append",
      "console=ttyS0 reboot=k panic=1 quiet tsc_early_khz=2596134 tsc=reliable",
      "-chardev",
      "file,id=console,path=/log/t1/console.log,append=on",
      "-serial",
      "chardev:console",
      "-chardev",
      "socket,id=qmp,path=/run/t/t1/qmp.sock,server=on,wait=off",
      "-mon",
      "chardev=qmp,mode=control",
      "-drive",
      "file=/img/rootfs.ext4,if=none,id=disk0,format=raw,readonly=on,"
      "throttling.bps-total=52428800,throttling.iops-total=5000",
      "-device",
      "virtio-blk-device,drive=disk0",
      "-drive",
      "file=/ovl/t1.ext4,if=none,id=disk1,format=raw",
      "-device",
      "virtio-blk-device,drive=disk1",
      "-netdev",
      "tap,id=net0,fd=3",
      "-device",
      "virtio-net-device,netdev=net0,mac=06:00:0a:00:00:02",
      "-chroot",
      "/jail/t1",
      "-runas",
      "10001:10001",
      "-sandbox",
      "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny",
      "-msg",
      "timestamp=on"};
  EXPECT_EQ(qemu_args(sample_spec(), l), want);
}

TEST(QemuArgs, KvmRestoreWithConsoleSocket) {
  VmSpec s = sample_spec();
  s.drives.clear();
  s.net.reset();
  s.initramfs.clear();
  s.console_socket_for_test = "/run/t/t1.con";
  Launch l;
  l.kvm = true;
  l.tsc_khz = 2596134;  // ignored under KVM
  l.qmp_socket = "/q.sock";
  l.incoming = true;
  std::vector<std::string> want = {
      "/usr/bin/qemu-system-x86_64",
      "-name",
      "lobster-t1",
      "-M",
      "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on",
      "-accel",
      "kvm",
      "-cpu",
      "host",
      "-m",
      "1024M",
      "-smp",
      "2",
      "-nodefaults",
      "-no-user-config",
      "-nographic",
      "-no-reboot",
      "-kernel",
      "/img/vmlinux",
      "-append",
      "console=ttyS0 reboot=k panic=1 quiet",
      "-chardev",
      "socket,id=console,path=/run/t/t1.con,server=on,wait=off,logfile=/log/t1/console.log,"
      "logappend=on",
      "-serial",
      "chardev:console",
      "-chardev",
      "socket,id=qmp,path=/q.sock,server=on,wait=off",
      "-mon",
      "chardev=qmp,mode=control",
      "-chroot",
      "/jail/t1",
      "-runas",
      "10001:10001",
      "-sandbox",
      "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny",
      "-msg",
      "timestamp=on",
      "-S",
      "-incoming",
      "defer"};
  EXPECT_EQ(qemu_args(s, l), want);
}

TEST(QemuArgs, DrivesFromFdSets) {
  Launch l;
  l.qmp_socket = "/q";
  l.drive_fds = {{10, -1}, {12, 13}};
  auto args = qemu_args(sample_spec(), l);
  std::vector<std::string> want = {"-add-fd",
                                   "fd=10,set=1,opaque=disk0-ro",
                                   "-drive",
                                   "file=/dev/fdset/1,if=none,id=disk0,format=raw,readonly=on,"
                                   "throttling.bps-total=52428800,throttling.iops-total=5000",
                                   "-device",
                                   "virtio-blk-device,drive=disk0",
                                   "-add-fd",
                                   "fd=12,set=2,opaque=disk1-ro",
                                   "-add-fd",
                                   "fd=13,set=2,opaque=disk1-rw",
                                   "-drive",
                                   "file=/dev/fdset/2,if=none,id=disk1,format=raw",
                                   "-device",
                                   "virtio-blk-device,drive=disk1"};
  auto start = std::find(args.begin(), args.end(), "-add-fd");
  ASSERT_NE(start, args.end());
  EXPECT_EQ(std::vector<std::string>(start, start + static_cast<long>(want.size())), want);
}

TEST(QemuArgs, NetWithoutTapFdIsOmitted) {
  Launch l;
  l.qmp_socket = "/q";
  auto args = qemu_args(sample_spec(), l);
  EXPECT_EQ(std::find(args.begin(), args.end(), "-netdev"), args.end());
}

TEST(Throttle, TokenBucketsBecomeQemuThrottling) {
  EXPECT_EQ(throttle_options(std::nullopt), "");
  EXPECT_EQ(throttle_options(RateLimiter{}), "");
  // 100 KiB per 500 ms = 200 KiB/s; a one-time burst of 1 MiB spent within one second.
  RateLimiter r{TokenBucket{102400, 1048576, 500}, TokenBucket{100, 0, 100}};
  EXPECT_EQ(throttle_options(r),
            ",throttling.bps-total=204800,throttling.bps-total-max=1253376,"
            "throttling.bps-total-max-length=1,throttling.iops-total=1000");
  EXPECT_EQ(bucket_rate_per_s(TokenBucket{1, 0, 1000}), 1);
  EXPECT_EQ(bucket_rate_per_s(TokenBucket{5, 0, 0}), 5000);  // refill 0 treated as 1 ms
}

TEST(TcPlan, ShapesBothDirections) {
  RateLimiter rx{TokenBucket{1250000, 0, 1000}, TokenBucket{1000, 0, 1000}};
  RateLimiter tx{TokenBucket{1000, 0, 1000}, std::nullopt};
  auto plan = tc_plan("lt1", rx, tx);
  using V = std::vector<std::vector<std::string>>;
  EXPECT_EQ(plan.reset, (V{{"tc", "qdisc", "del", "dev", "lt1", "root"},
                           {"tc", "qdisc", "del", "dev", "lt1", "ingress"}}));
  EXPECT_EQ(plan.rx, (V{{"tc", "qdisc", "add", "dev", "lt1", "root", "tbf", "rate", "10000000bit",
                         "burst", "1250000", "latency", "50ms"}}));
  EXPECT_EQ(plan.tx,
            (V{{"tc", "qdisc", "add", "dev", "lt1", "handle", "ffff:", "ingress"},
               {"tc",     "filter", "add",     "dev",   "lt1",   "parent", "ffff:",  "protocol",
                "all",    "prio",   "1",       "u32",   "match", "u32",    "0",      "0",
                "police", "rate",   "8000bit", "burst", "16384", "drop",   "flowid", ":1"}}));
  EXPECT_EQ(plan.tx_undo,
            (std::vector<std::string>{"tc", "qdisc", "del", "dev", "lt1", "ingress"}));
}

TEST(TcPlan, NoLimitsOnlyResets) {
  auto plan = tc_plan("lt1", std::nullopt, RateLimiter{std::nullopt, TokenBucket{10, 0, 1000}});
  EXPECT_EQ(plan.reset.size(), 2U);
  EXPECT_TRUE(plan.rx.empty());
  EXPECT_TRUE(plan.tx.empty());
}

TEST(QemuArgsTest, TcgMemoryLimitCountsTheTranslationCache) {
  EXPECT_EQ(tcg_memory_limit(int64_t{1} << 30),
            (int64_t{1} << 30) + (kTcgTranslationCacheMiB << 20));
}

}  // namespace
}  // namespace lobster::vmm::qemu
