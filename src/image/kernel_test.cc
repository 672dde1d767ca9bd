#include "image/kernel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "core/testing/matchers.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using ::testing::ElementsAre;

template <typename T>
void put(std::string& buf, size_t offset, T value) {
  if (buf.size() < offset + sizeof(T))
    buf.resize(offset + sizeof(T));
  std::memcpy(buf.data() + offset, &value, sizeof(T));
}

std::string fake_bzimage(std::string_view payload, uint8_t setup_sects = 3) {
  const size_t sects = setup_sects == 0 ? 4 : setup_sects;  // boot protocol: 0 means 4
  std::string img((sects + 1) * 512, '\0');
  put<uint8_t>(img, 0x1f1, setup_sects);
  std::memcpy(img.data() + 0x202, "HdrS", 4);
  put<uint32_t>(img, 0x248, 0x10);
  put<uint32_t>(img, 0x24c, static_cast<uint32_t>(payload.size()));
  img.append(0x10, '\0');
  img.append(payload);
  img.append("tail-data");
  return img;
}

TEST(LocatePayload, FindsXzAndStripsSizeTrailer) {
  std::string payload = std::string(
                            "\xfd"
                            "7zXZ\0",
                            6) +
                        std::string(20, 'x');
  put<uint32_t>(payload, payload.size(), 123456);
  const auto p = locate_payload(fake_bzimage(payload));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->compression, Compression::kXz);
  EXPECT_EQ(p->offset, 4u * 512 + 0x10);
  EXPECT_EQ(p->length, payload.size() - 4);
  EXPECT_EQ(p->expected_size, 123456u);
}

TEST(LocatePayload, FindsGzipWithoutTrailer) {
  const std::string payload = std::string("\x1f\x8b\x08", 3) + std::string(30, 'y');
  const auto p = locate_payload(fake_bzimage(payload, 0));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->compression, Compression::kGzip);
  EXPECT_EQ(p->offset, 5u * 512 + 0x10);
  EXPECT_EQ(p->length, payload.size());
  EXPECT_EQ(p->expected_size, 0u);
}

TEST(LocatePayload, FindsZstd) {
  const std::string payload = std::string("\x28\xb5\x2f\xfd", 4) + std::string(30, 'z');
  const auto p = locate_payload(fake_bzimage(payload));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->compression, Compression::kZstd);
}

TEST(LocatePayload, RejectsUnknownMagicAndNonBzImage) {
  EXPECT_THAT(locate_payload(fake_bzimage(std::string(40, 'q'))),
              HasError(ErrorCode::kImageBuildFailed));
  EXPECT_THAT(locate_payload("not a kernel"), HasError(ErrorCode::kImageBuildFailed));
  std::string truncated = fake_bzimage(std::string("\x1f\x8b", 2) + std::string(40, 'a'));
  truncated.resize(truncated.size() - 30);
  EXPECT_THAT(locate_payload(truncated), HasError(ErrorCode::kImageBuildFailed));
}

// A minimal ELF64 with one PT_NOTE segment holding `notes`.
std::string fake_elf(std::string_view notes) {
  std::string elf(64 + 56, '\0');
  std::memcpy(elf.data(),
              "\x7f"
              "ELF",
              4);
  elf[4] = 2;
  elf[5] = 1;
  put<uint16_t>(elf, 0x12, 62);
  put<uint64_t>(elf, 0x20, 64);
  put<uint16_t>(elf, 0x36, 56);
  put<uint16_t>(elf, 0x38, 1);
  put<uint32_t>(elf, 64, 4);                  // PT_NOTE
  put<uint64_t>(elf, 64 + 8, elf.size());     // p_offset
  put<uint64_t>(elf, 64 + 32, notes.size());  // p_filesz
  elf.append(notes);
  return elf;
}

std::string note(std::string_view name, uint32_t type, std::string_view desc) {
  std::string n;
  put<uint32_t>(n, 0, static_cast<uint32_t>(name.size()));
  put<uint32_t>(n, 4, static_cast<uint32_t>(desc.size()));
  put<uint32_t>(n, 8, type);
  n.append(name);
  n.resize((n.size() + 3) & ~size_t{3}, '\0');
  n.append(desc);
  n.resize((n.size() + 3) & ~size_t{3}, '\0');
  return n;
}

TEST(CheckPvhElf, AcceptsXenPhys32EntryNote) {
  const std::string notes = note(std::string_view("GNU\0", 4), 3, "abcdefgh") +
                            note(std::string_view("Xen\0", 4), 18, "\x00\x10\x00\x01");
  EXPECT_THAT(check_pvh_elf(fake_elf(notes)), IsOk());
}

TEST(CheckPvhElf, RejectsElfWithoutPvhNote) {
  const std::string notes = note(std::string_view("Xen\0", 4), 17, "abcd") +
                            note(std::string_view("GNU\0", 4), 18, "abcd");
  EXPECT_THAT(check_pvh_elf(fake_elf(notes)), HasError(ErrorCode::kImageBuildFailed));
  EXPECT_THAT(check_pvh_elf("MZ not elf at all"), HasError(ErrorCode::kImageBuildFailed));
}

TEST(ModuleName, StripsDirectoryAndCompressionSuffix) {
  EXPECT_EQ(module_name("kernel/fs/ext4/ext4.ko.xz"), "ext4");
  EXPECT_EQ(module_name("kernel/arch/x86/crypto/crc32c-intel.ko"), "crc32c_intel");
  EXPECT_EQ(module_name("virtio_net.ko.zst"), "virtio_net");
}

constexpr std::string_view kDep =
    "kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko kernel/fs/mbcache.ko.zst "
    "kernel/fs/jbd2/jbd2.ko\n"
    "kernel/fs/jbd2/jbd2.ko:\n"
    "kernel/fs/mbcache.ko.zst:\n"
    "kernel/lib/crc16.ko:\n"
    "kernel/crypto/crc32c_generic.ko:\n"
    "kernel/drivers/virtio/virtio.ko:\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/fs/overlayfs/overlay.ko:\n";

TEST(ResolveModules, OrdersDependenciesFirstWithoutDuplicates) {
  const auto order = resolve_modules(kDep, "", "", {"virtio-mmio", "virtio_blk", "overlay"});
  ASSERT_THAT(order, IsOk());
  EXPECT_THAT(*order,
              ElementsAre("kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
                          "kernel/drivers/virtio/virtio_mmio.ko",
                          "kernel/drivers/block/virtio_blk.ko", "kernel/fs/overlayfs/overlay.ko"));
}

TEST(ResolveModules, FollowsSoftDependenciesThroughAliases) {
  const std::string_view soft = "# comment\nsoftdep ext4 pre: crypto-crc32c post: nothing\n";
  const std::string_view aliases =
      "alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_intel\n";
  const auto order = resolve_modules(kDep, soft, aliases, {"ext4"});
  ASSERT_THAT(order, IsOk());
  EXPECT_THAT(*order, ElementsAre("kernel/lib/crc16.ko", "kernel/fs/mbcache.ko.zst",
                                  "kernel/fs/jbd2/jbd2.ko", "kernel/crypto/crc32c_generic.ko",
                                  "kernel/fs/ext4/ext4.ko.xz"));
}

TEST(ResolveModules, UnknownModuleIsAnError) {
  EXPECT_THAT(resolve_modules(kDep, "", "", {"virtio_net"}),
              HasError(ErrorCode::kImageBuildFailed));
}

}  // namespace
}  // namespace lobster::image
