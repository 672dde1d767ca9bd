#include "vmm/firecracker/jailer_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"

namespace lobster::vmm::firecracker {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::ElementsAre;

JailerOptions alice(CgroupVersion version) {
  return JailerOptions{.vm_id = "vm-alice",
                       .firecracker_path = "/usr/local/bin/firecracker",
                       .uid = 10001,
                       .gid = 10001,
                       .chroot_base_dir = "/var/lib/lobsterd/jail",
                       .cgroup_version = version,
                       .parent_cgroup = "lobsterd",
                       .memory_limit_bytes = vmm_memory_limit_bytes(1024),
                       .cpu_quota_us = 200'000,
                       .pids_max = 64};
}

TEST(JailerArgsTest, MemoryLimitIsGuestPlus128MiB) {
  EXPECT_EQ(vmm_memory_limit_bytes(1024), 1'207'959'552);  // spec §5.4
}

TEST(JailerArgsTest, CgroupV2Host) {
  EXPECT_THAT(jailer_args("/usr/local/bin/jailer", alice(CgroupVersion::kV2)),
              ElementsAre("/usr/local/bin/jailer", "--id", "vm-alice", "--exec-file",
                          "/usr/local/bin/firecracker", "--uid", "10001", "--gid", "10001",
                          "--chroot-base-dir", "/var/lib/lobsterd/jail", "--new-pid-ns",
                          "--cgroup-version", "2", "--parent-cgroup", "lobsterd", "--cgroup",
                          "memory.max=1207959552", "--cgroup", "cpu.max=200000 100000", "--cgroup",
                          "pids.max=64", "--", "--api-sock", "api.socket"));
}

TEST(JailerArgsTest, CgroupV1Host) {
  EXPECT_THAT(jailer_args("/usr/local/bin/jailer", alice(CgroupVersion::kV1)),
              ElementsAre("/usr/local/bin/jailer", "--id", "vm-alice", "--exec-file",
                          "/usr/local/bin/firecracker", "--uid", "10001", "--gid", "10001",
                          "--chroot-base-dir", "/var/lib/lobsterd/jail", "--new-pid-ns",
                          "--cgroup-version", "1", "--parent-cgroup", "lobsterd", "--cgroup",
                          "memory.limit_in_bytes=1207959552", "--cgroup", "cpu.cfs_quota_us=200000",
                          "--cgroup", "cpu.cfs_period_us=100000", "--cgroup", "pids.max=64", "--",
                          "--api-sock", "api.socket"));
}

TEST(JailerArgsTest, OptionalPartsAreOmittedAndNetnsIsPassed) {
  JailerOptions o = alice(CgroupVersion::kV2);
  o.new_pid_ns = false;
  o.memory_limit_bytes = 0;
  o.cpu_quota_us = 0;
  o.pids_max = 0;
  o.netns_path = "/var/run/netns/lobster-alice";
  EXPECT_THAT(
      jailer_args("jailer", o),
      ElementsAre("jailer", "--id", "vm-alice", "--exec-file", "/usr/local/bin/firecracker",
                  "--uid", "10001", "--gid", "10001", "--chroot-base-dir", "/var/lib/lobsterd/jail",
                  "--netns", "/var/run/netns/lobster-alice", "--cgroup-version", "2",
                  "--parent-cgroup", "lobsterd", "--", "--api-sock", "api.socket"));
}

TEST(JailerArgsTest, ChrootPathsFollowTheJailerLayout) {
  JailerOptions o = alice(CgroupVersion::kV2);
  EXPECT_EQ(chroot_vm_dir(o), "/var/lib/lobsterd/jail/firecracker/vm-alice");
  EXPECT_EQ(chroot_root(o), "/var/lib/lobsterd/jail/firecracker/vm-alice/root");
}

TEST(JailerArgsTest, ValidationRejectsWhatTheJailerWould) {
  EXPECT_THAT(validate_jailer_options(alice(CgroupVersion::kV2)), IsOk());
  JailerOptions bad_id = alice(CgroupVersion::kV2);
  bad_id.vm_id = "vm_alice";
  EXPECT_THAT(validate_jailer_options(bad_id), HasError(ErrorCode::kValidationFailed));
  JailerOptions bad_exec = alice(CgroupVersion::kV2);
  bad_exec.firecracker_path = "/usr/bin/qemu";
  EXPECT_THAT(validate_jailer_options(bad_exec), HasError(ErrorCode::kValidationFailed));
  JailerOptions bad_cgroup = alice(CgroupVersion::kV2);
  bad_cgroup.parent_cgroup = "../escape";
  EXPECT_THAT(validate_jailer_options(bad_cgroup), HasError(ErrorCode::kValidationFailed));
}

TEST(JailerArgsTest, DetectsTheHostCgroupLayout) {
  // /sys/fs/cgroup is either cgroup2 or a v1/hybrid tmpfs on every Linux host we support.
  EXPECT_THAT(detect_cgroup_version("/sys/fs/cgroup"), IsOk());
  EXPECT_THAT(detect_cgroup_version("/proc"), HasError(ErrorCode::kCgroupFailed));
  EXPECT_THAT(detect_cgroup_version("/nonexistent-lobster"), HasError(ErrorCode::kCgroupFailed));
}

}  // namespace
}  // namespace lobster::vmm::firecracker
