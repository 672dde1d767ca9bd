#include "image/cpio.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace lobster::image {
namespace {

TEST(CpioWriter, RoundTripsEveryEntryKind) {
  CpioWriter w;
  w.add_directory("/bin", 0755);
  w.add_file("bin/busybox",
             std::string("\x7f"
                         "ELF\0binary",
                         10),
             0755);
  w.add_symlink("bin/sh", "busybox");
  w.add_char_device("dev/console", 0600, 5, 1);
  w.add_file("init", "#!/bin/sh\n", 0700);
  const std::string archive = std::move(w).finish();
  EXPECT_EQ(archive.size() % 512, 0u);

  std::vector<CpioEntry> entries;
  ASSERT_TRUE(parse_cpio(archive, &entries));
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].path, "bin");
  EXPECT_EQ(entries[0].mode, S_IFDIR | 0755u);
  EXPECT_EQ(entries[1].path, "bin/busybox");
  EXPECT_EQ(entries[1].data, std::string("\x7f"
                                         "ELF\0binary",
                                         10));
  EXPECT_EQ(entries[1].mode, S_IFREG | 0755u);
  EXPECT_EQ(entries[2].mode, S_IFLNK | 0777u);
  EXPECT_EQ(entries[2].data, "busybox");
  EXPECT_EQ(entries[3].mode, S_IFCHR | 0600u);
  EXPECT_EQ(entries[3].rdev_major, 5u);
  EXPECT_EQ(entries[3].rdev_minor, 1u);
  EXPECT_EQ(entries[4].path, "init");
}

TEST(CpioWriter, HeaderFieldsAreNewcAndAligned) {
  CpioWriter w;
  w.add_file("a", "xyz", 0644);
  const std::string archive = std::move(w).finish();
  // Magic, then ino=1, mode=0100644, ..., filesize=3, namesize=2.
  EXPECT_EQ(archive.substr(0, 6), "070701");
  EXPECT_EQ(archive.substr(6, 8), "00000001");
  EXPECT_EQ(archive.substr(14, 8), "000081a4");
  EXPECT_EQ(archive.substr(6 + 6 * 8, 8), "00000003");
  EXPECT_EQ(archive.substr(6 + 11 * 8, 8), "00000002");
  // 110-byte header + "a\0" = 112 (aligned), data "xyz" padded to 116, next header there.
  EXPECT_EQ(archive.substr(110, 2), std::string("a\0", 2));
  EXPECT_EQ(archive.substr(112, 3), "xyz");
  EXPECT_EQ(archive.substr(116, 6), "070701");
  EXPECT_NE(archive.find("TRAILER!!!"), std::string::npos);
}

TEST(ParseCpio, RejectsTruncatedOrForeignData) {
  CpioWriter w;
  w.add_file("a", std::string(100, 'x'), 0644);
  std::string archive = std::move(w).finish();
  std::vector<CpioEntry> entries;
  EXPECT_FALSE(parse_cpio(archive.substr(0, 150), &entries));
  entries.clear();
  EXPECT_FALSE(parse_cpio("070707 old binary cpio", &entries));
}

}  // namespace
}  // namespace lobster::image
