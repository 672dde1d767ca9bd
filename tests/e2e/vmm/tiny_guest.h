// A tiny test guest for the VMM e2e tests and bench/vmm until the minimal image + agent are
// wired: Debian's PVH vmlinux (image::extract_vmlinux) plus an initramfs whose busybox /init
// prints `lobster-test: ready` and then serves line commands on the serial console:
//   ping X -> "PONG X"; set V -> stores V in a tmpfs, "SET-OK"; get -> "VALUE=<V>".
// Also a console client for the QEMU driver's console_socket_for_test.
#pragma once

#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::vmm::testing {

struct TinyGuest {
  std::string kernel;     // vmlinux
  std::string initramfs;  // gzip newc
};

// Builds (or reuses) the guest files in `dir`.
Result<TinyGuest> build_tiny_guest(const std::string& dir);

// The kernel command line the tiny guest expects.
inline constexpr const char* kTinyCmdline = "console=ttyS0 reboot=t panic=-1 quiet";
inline constexpr const char* kReadyMarker = "lobster-test: ready";

class Console {
 public:
  // Connects to a Unix stream socket (retrying until it exists or `timeout_ms` passes).
  static Result<Console> connect(const std::string& path, int64_t timeout_ms);
  Status send_line(const std::string& line);
  // Reads until `needle` appears in the output received since the last successful expect();
  // returns the text up to and including the line holding it. kExecTimeout otherwise.
  Result<std::string> expect(const std::string& needle, int64_t timeout_ms);

 private:
  explicit Console(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  std::string buffer_;
};

// Waits until `path` (a console log file) contains `needle`. kExecTimeout otherwise.
Status wait_for_file_text(const std::string& path, const std::string& needle, int64_t timeout_ms);

}  // namespace lobster::vmm::testing
