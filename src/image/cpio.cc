#include "image/cpio.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <charconv>

namespace lobster::image {
namespace {

constexpr std::string_view kMagic = "070701";
constexpr size_t kHeaderSize = 110;  // 6-byte magic + 13 fields of 8 hex digits

std::string_view strip_slash(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  return path;
}

void pad4(std::string& out) {
  while (out.size() % 4 != 0) out.push_back('\0');
}

bool hex_field(std::string_view header, size_t index, uint32_t* value) {
  const std::string_view field = header.substr(kMagic.size() + index * 8, 8);
  const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), *value, 16);
  return ec == std::errc() && ptr == field.data() + field.size();
}

size_t round4(size_t n) { return (n + 3) & ~size_t{3}; }

}  // namespace

void CpioWriter::add_entry(std::string_view path, uint32_t mode, std::string_view data,
                           uint32_t rdev_major, uint32_t rdev_minor) {
  const std::string_view name = strip_slash(path);
  // newc fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
  // namesize check. namesize counts the terminating NUL.
  out_ += fmt::format(
      "{}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}", kMagic,
      next_ino_++, mode, 0, 0, S_ISDIR(mode) ? 2 : 1, 0, data.size(), 0, 0, rdev_major, rdev_minor,
      name.size() + 1, 0);
  out_.append(name);
  out_.push_back('\0');
  pad4(out_);
  out_.append(data);
  pad4(out_);
}

void CpioWriter::add_directory(std::string_view path, mode_t perm) {
  add_entry(path, S_IFDIR | (perm & 07777), "", 0, 0);
}

void CpioWriter::add_file(std::string_view path, std::string_view data, mode_t perm) {
  add_entry(path, S_IFREG | (perm & 07777), data, 0, 0);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  add_entry(path, S_IFLNK | 0777, target, 0, 0);
}

void CpioWriter::add_char_device(std::string_view path, mode_t perm, uint32_t major,
                                 uint32_t minor) {
  add_entry(path, S_IFCHR | (perm & 07777), "", major, minor);
}

std::string CpioWriter::finish() && {
  next_ino_ = 0;
  add_entry("TRAILER!!!", 0, "", 0, 0);
  // The kernel accepts any length; pad to 512 bytes like cpio(1) does.
  while (out_.size() % 512 != 0) out_.push_back('\0');
  return std::move(out_);
}

bool parse_cpio(std::string_view archive, std::vector<CpioEntry>* entries) {
  size_t pos = 0;
  while (pos + kHeaderSize <= archive.size()) {
    const std::string_view header = archive.substr(pos, kHeaderSize);
    if (!header.starts_with(kMagic))
      return false;
    uint32_t mode = 0, filesize = 0, rmaj = 0, rmin = 0, namesize = 0;
    if (!hex_field(header, 1, &mode) || !hex_field(header, 6, &filesize) ||
        !hex_field(header, 9, &rmaj) || !hex_field(header, 10, &rmin) ||
        !hex_field(header, 11, &namesize) || namesize == 0) {
      return false;
    }
    const size_t name_at = pos + kHeaderSize;
    if (name_at + namesize > archive.size())
      return false;
    std::string name(archive.substr(name_at, namesize - 1));
    const size_t data_at = round4(name_at + namesize);
    if (data_at + filesize > archive.size())
      return false;
    if (name == "TRAILER!!!")
      return true;
    entries->push_back(CpioEntry{std::move(name), mode, rmaj, rmin,
                                 std::string(archive.substr(data_at, filesize))});
    pos = round4(data_at + filesize);
  }
  return false;
}

}  // namespace lobster::image
