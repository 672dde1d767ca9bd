// CpioWriter: builds a cpio "newc" archive (the format the kernel unpacks as an initramfs) in
// memory, so the initramfs needs no root privileges and no host `cpio` binary: device nodes such
// as /dev/console are written as plain header fields.
//
//   CpioWriter w;
//   w.add_directory("dev", 0755);
//   w.add_char_device("dev/console", 0600, 5, 1);
//   w.add_file("init", script, 0755);
//   std::string archive = std::move(w).finish();
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lobster::image {

class CpioWriter {
 public:
  // Paths are relative ("bin/busybox"); a leading '/' is stripped. All entries are owned by
  // root with mtime 0 so the archive is reproducible.
  void add_directory(std::string_view path, mode_t perm);
  void add_file(std::string_view path, std::string_view data, mode_t perm);
  void add_symlink(std::string_view path, std::string_view target);
  void add_char_device(std::string_view path, mode_t perm, uint32_t major, uint32_t minor);

  // Appends the TRAILER!!! entry and returns the archive.
  std::string finish() &&;

 private:
  void add_entry(std::string_view path, uint32_t mode, std::string_view data, uint32_t rdev_major,
                 uint32_t rdev_minor);

  std::string out_;
  uint32_t next_ino_ = 1;
};

// One parsed entry (used by tests and by verification of built archives).
struct CpioEntry {
  std::string path;
  uint32_t mode = 0;  // type bits | permission bits
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  std::string data;  // file contents or symlink target
};

// Parses a newc archive up to its trailer. Returns false on a malformed archive.
bool parse_cpio(std::string_view archive, std::vector<CpioEntry>* entries);

}  // namespace lobster::image
