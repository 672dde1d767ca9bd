#include "image/initramfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "image/cpio.h"

namespace lobster::image {
namespace {

TEST(Initramfs, ContainsBusyboxAppletsModulesConsoleAndInit) {
  InitramfsContents c;
  c.busybox = "BUSYBOX";
  c.applets = {"sh", "mount", "busybox", "switch_root"};
  c.modules = {{"virtio.ko", "V"}, {"virtio_mmio.ko", "M"}};
  std::vector<CpioEntry> entries;
  ASSERT_TRUE(parse_cpio(make_initramfs(c), &entries));
  std::map<std::string, CpioEntry> by_path;
  for (auto& e : entries) by_path[e.path] = e;

  ASSERT_TRUE(by_path.contains("init"));
  EXPECT_EQ(by_path["init"].mode & 0777, 0755u);
  EXPECT_EQ(by_path["init"].data, init_script());
  EXPECT_EQ(by_path["bin/busybox"].data, "BUSYBOX");
  EXPECT_TRUE(S_ISLNK(by_path["bin/sh"].mode));
  EXPECT_EQ(by_path["bin/sh"].data, "busybox");
  EXPECT_FALSE(by_path.contains("bin/bin/busybox"));
  EXPECT_TRUE(S_ISCHR(by_path["dev/console"].mode));
  EXPECT_EQ(by_path["lib/modules/load-order"].data, "virtio.ko\nvirtio_mmio.ko\n");
  EXPECT_EQ(by_path["lib/modules/virtio_mmio.ko"].data, "M");
  for (const char* dir : {"proc", "sys", "newroot", "mnt"}) {
    EXPECT_TRUE(S_ISDIR(by_path[dir].mode)) << dir;
  }
}

TEST(Initramfs, InitFollowsTheGuestContract) {
  const std::string s = init_script();
  EXPECT_TRUE(s.starts_with("#!/bin/sh\n"));
  EXPECT_NE(s.find("LABEL=lobster-root"), std::string::npos);
  EXPECT_NE(s.find("LABEL=lobster-ovl"), std::string::npos);
  EXPECT_NE(s.find("LOBSTERCFG1"), std::string::npos);
  EXPECT_NE(s.find("mount -t ext4 -o ro "), std::string::npos);
  EXPECT_NE(s.find("lowerdir=/mnt/root,upperdir=/mnt/ovl/upper,workdir=/mnt/ovl/work"),
            std::string::npos);
  EXPECT_NE(s.find("export LOBSTER_CONFIG_DEV=\"$cfg\""), std::string::npos);
  // The marker is printed before handing over, and the hand-over is the last real command.
  const size_t marker = s.find("echo \"lobster-initramfs: ok\"");
  const size_t handover = s.find("exec switch_root /newroot /sbin/lobster-init");
  ASSERT_NE(marker, std::string::npos);
  ASSERT_NE(handover, std::string::npos);
  EXPECT_LT(marker, handover);
}

}  // namespace
}  // namespace lobster::image
