#include "image/kernel.h"

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/fs.h"
#include "image/decompress.h"

namespace lobster::image {
namespace {

// x86 boot protocol offsets (Documentation/x86/boot.rst).
constexpr size_t kSetupSectsOffset = 0x1f1;
constexpr size_t kHeaderMagicOffset = 0x202;  // "HdrS"
constexpr size_t kPayloadOffsetOffset = 0x248;
constexpr size_t kPayloadLengthOffset = 0x24c;

// ELF constants (elf.h values spelled out; the guest image is always x86-64 little endian).
constexpr uint32_t kPtNote = 4;
constexpr uint16_t kEmX8664 = 62;
// include/xen/interface/elfnote.h: the 32-bit PVH entry point.
constexpr uint32_t kXenElfnotePhys32Entry = 18;

template <typename T>
bool read_le(std::string_view data, size_t offset, T* out) {
  if (offset > data.size() || data.size() - offset < sizeof(T))
    return false;
  // The hosts we build on are little endian (x86-64), like the formats we parse.
  std::memcpy(out, data.data() + offset, sizeof(T));
  return true;
}

bool starts_with_at(std::string_view data, size_t offset, std::string_view magic) {
  return offset <= data.size() && data.substr(offset).starts_with(magic);
}

}  // namespace

Result<KernelPayload> locate_payload(std::string_view bzimage) {
  uint8_t setup_sects = 0;
  uint32_t payload_offset = 0;
  uint32_t payload_length = 0;
  if (!read_le(bzimage, kSetupSectsOffset, &setup_sects) ||
      !starts_with_at(bzimage, kHeaderMagicOffset, "HdrS") ||
      !read_le(bzimage, kPayloadOffsetOffset, &payload_offset) ||
      !read_le(bzimage, kPayloadLengthOffset, &payload_length)) {
    return make_error(ErrorCode::kImageBuildFailed, "kernel image is not an x86 bzImage");
  }
  // A setup_sects of 0 means 4 (boot.rst).
  const size_t sects = setup_sects == 0 ? 4u : setup_sects;
  KernelPayload p;
  p.offset = (sects + 1) * 512 + payload_offset;
  p.length = payload_length;
  if (p.offset > bzimage.size() || bzimage.size() - p.offset < p.length || p.length < 16) {
    return make_error(ErrorCode::kImageBuildFailed,
                      "bzImage payload (offset {}, length {}) lies outside the file", p.offset,
                      p.length);
  }
  const std::string_view payload = bzimage.substr(p.offset, p.length);
  if (payload.starts_with("\xfd"
                          "7zXZ")) {
    p.compression = Compression::kXz;
  } else if (payload.starts_with("\x28\xb5\x2f\xfd")) {
    p.compression = Compression::kZstd;
  } else if (payload.starts_with("\x1f\x8b")) {
    p.compression = Compression::kGzip;
  } else {
    return make_error(ErrorCode::kImageBuildFailed,
                      "bzImage payload is neither xz, zstd nor gzip compressed");
  }
  // scripts/Makefile.lib appends the uncompressed size (size_append) to xz and zstd payloads;
  // the decompressors reject it as trailing garbage, so cut it off and check it afterwards.
  if (p.compression != Compression::kGzip) {
    uint32_t size = 0;
    (void)read_le(payload, payload.size() - 4, &size);
    p.expected_size = size;
    p.length -= 4;
  }
  return p;
}

Status check_pvh_elf(std::string_view elf) {
  uint16_t machine = 0;
  uint64_t phoff = 0;
  uint16_t phentsize = 0;
  uint16_t phnum = 0;
  if (!elf.starts_with("\x7f"
                       "ELF") ||
      elf.size() < 64 || elf[4] != 2 /* ELFCLASS64 */ || elf[5] != 1 /* little endian */ ||
      !read_le(elf, 0x12, &machine) || machine != kEmX8664 || !read_le(elf, 0x20, &phoff) ||
      !read_le(elf, 0x36, &phentsize) || !read_le(elf, 0x38, &phnum) || phentsize < 56) {
    return make_error(ErrorCode::kImageBuildFailed, "kernel is not an x86-64 ELF image");
  }
  for (size_t i = 0; i < phnum; ++i) {
    const size_t ph = static_cast<size_t>(phoff) + i * phentsize;
    uint32_t type = 0;
    uint64_t offset = 0;
    uint64_t filesz = 0;
    if (!read_le(elf, ph, &type) || !read_le(elf, ph + 8, &offset) ||
        !read_le(elf, ph + 32, &filesz)) {
      break;
    }
    if (type != kPtNote || offset > elf.size() || elf.size() - offset < filesz)
      continue;
    const std::string_view notes =
        elf.substr(static_cast<size_t>(offset), static_cast<size_t>(filesz));
    size_t pos = 0;
    while (pos + 12 <= notes.size()) {
      uint32_t namesz = 0;
      uint32_t descsz = 0;
      uint32_t note_type = 0;
      (void)read_le(notes, pos, &namesz);
      (void)read_le(notes, pos + 4, &descsz);
      (void)read_le(notes, pos + 8, &note_type);
      const size_t name_at = pos + 12;
      const size_t desc_at = name_at + ((size_t{namesz} + 3) & ~size_t{3});
      if (name_at + namesz > notes.size())
        break;
      const std::string_view name = notes.substr(name_at, namesz);
      if (note_type == kXenElfnotePhys32Entry && name == std::string_view("Xen\0", 4)) {
        return ok();
      }
      pos = desc_at + ((size_t{descsz} + 3) & ~size_t{3});
    }
  }
  return make_error(ErrorCode::kImageBuildFailed,
                    "kernel ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

Status extract_vmlinux(process::ProcessRunner& runner, const std::string& bzimage_path,
                       const std::string& out_path) {
  const std::string bzimage = LOB_TRY(fs::read_file(bzimage_path));
  auto payload = locate_payload(bzimage);
  if (!payload) {
    Error e = std::move(payload).error();
    e.message = bzimage_path + ": " + e.message;
    return make_error(std::move(e));
  }
  std::string vmlinux = LOB_TRY(decompress(runner, bzimage.substr(payload->offset, payload->length),
                                           payload->compression, bzimage_path));
  if (payload->expected_size != 0 && vmlinux.size() != payload->expected_size) {
    return make_error(ErrorCode::kImageBuildFailed,
                      "{}: decompressed kernel has {} bytes, its header says {}", bzimage_path,
                      vmlinux.size(), payload->expected_size);
  }
  if (auto st = check_pvh_elf(vmlinux); !st) {
    Error e = std::move(st).error();
    e.message = bzimage_path + ": " + e.message;
    return make_error(std::move(e));
  }
  return fs::write_file_atomic(out_path, vmlinux, 0644);
}

Result<std::string> find_installed_kernel(const std::string& root) {
  const std::string boot = root + "/boot";
  DIR* dir = opendir(boot.c_str());
  std::vector<std::string> versions;
  if (dir != nullptr) {
    while (const dirent* entry = readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (!name.starts_with("vmlinuz-"))
        continue;
      std::string ver(name.substr(8));
      if (fs::exists(root + "/lib/modules/" + ver + "/modules.dep"))
        versions.push_back(ver);
    }
    closedir(dir);
  }
  if (versions.empty()) {
    return with_hint(Error{ErrorCode::kPreflightFailed, "no kernel with modules found in " + boot},
                     "apt-get install linux-image-amd64");
  }
  std::sort(versions.begin(), versions.end(), [](const std::string& a, const std::string& b) {
    return strverscmp(a.c_str(), b.c_str()) < 0;
  });
  return versions.back();
}

}  // namespace lobster::image
