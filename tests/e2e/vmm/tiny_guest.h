// A tiny test guest for the VMM e2e tests and bench/vmm until the minimal image + agent are
// wired: Debian's PVH vmlinux (image::extract_vmlinux) plus an initramfs whose busybox /init
// prints `lobster-test: ready` and then serves line commands on the serial console:
//   ping X -> "PONG X"; set V -> stores V in a tmpfs, "SET-OK"; get -> "VALUE=<V>".
// Also a console client for the QEMU driver's console_socket_for_test.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"
#include "host/process/process.h"
#include "vmm/vmm.h"

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

// A persistent TAP owned by `uid` in the current network namespace (as host/net makes them).
Status make_tap(const std::string& name, uint32_t uid);

// The minimal image profile (image::build_image into <dir>/lib/images, guest binaries from the
// build tree) plus a 256 MiB overlay and a config disk for one tenant at `guest_ip`.
struct MinimalGuest {
  std::string kernel;
  std::string initramfs;
  std::string cmdline;
  std::vector<Drive> drives;  // config (ro), rootfs (ro, rate-limited), overlay (rw)
};
Result<MinimalGuest> prepare_minimal_guest(process::ProcessRunner& runner, const std::string& dir,
                                           const std::string& agent_token,
                                           const std::string& guest_ip, const std::string& host_ip);

// One agent health-ping; the whole reply, or "" if none within `timeout_ms`.
std::string agent_ping(const std::string& ip, int port, const std::string& token,
                       int64_t timeout_ms);
// Retries agent_ping until it answers or `timeout_ms` passes.
std::string agent_ping_until(const std::string& ip, int port, const std::string& token,
                             int64_t timeout_ms);

}  // namespace lobster::vmm::testing
