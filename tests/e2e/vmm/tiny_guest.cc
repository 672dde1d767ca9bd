#include "tiny_guest.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/fs.h"
#include "host/process/process.h"
#include "image/kernel.h"

namespace lobster::vmm::testing {
namespace {

constexpr const char* kInit = R"SH(#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t tmpfs tmpfs /mnt
echo "lobster-test: ready"
while read -r cmd arg; do
  case "$cmd" in
    set) echo "$arg" > /mnt/value; echo "SET-OK" ;;
    get) echo "VALUE=$(cat /mnt/value)" ;;
    ping) echo "PONG $arg" ;;
  esac
done
)SH";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<TinyGuest> build_tiny_guest(const std::string& dir) {
  LOB_TRY(fs::ensure_dir(dir, 0755));
  TinyGuest g{dir + "/vmlinux", dir + "/initrd.gz"};
  process::PosixProcessRunner runner;
  if (!fs::exists(g.kernel)) {
    auto kver = LOB_TRY(image::find_installed_kernel());
    LOB_TRY(image::extract_vmlinux(runner, "/boot/vmlinuz-" + kver, g.kernel));
  }
  if (!fs::exists(g.initramfs)) {
    std::string root = dir + "/initramfs";
    for (const char* d : {"/bin", "/dev", "/proc", "/mnt"}) LOB_TRY(fs::ensure_dir(root + d, 0755));
    LOB_TRY(
        fs::write_file_atomic(root + "/bin/busybox", LOB_TRY(fs::read_file("/bin/busybox")), 0755));
    LOB_TRY(fs::write_file_atomic(root + "/init", kInit, 0755));
    LOB_TRY(runner.run_checked({"/bin/sh", "-c",
                                "cd \"$0\" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "
                                "\"$1\"",
                                root, g.initramfs}));
  }
  return g;
}

Result<Console> Console::connect(const std::string& path, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX.
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      return Console(std::move(fd));
    }
    if (now_ms() >= deadline)
      return errno_error(ErrorCode::kExecTimeout, "connect " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status Console::send_line(const std::string& line) {
  std::string data = line + "\n";
  if (::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(data.size())) {
    return errno_error(ErrorCode::kIoFailed, "send to console");
  }
  return ok();
}

Result<std::string> Console::expect(const std::string& needle, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    auto pos = buffer_.find(needle);
    if (pos != std::string::npos) {
      auto end = buffer_.find('\n', pos);
      if (end != std::string::npos || now_ms() >= deadline) {
        end = end == std::string::npos ? buffer_.size() : end + 1;
        std::string out = buffer_.substr(0, end);
        buffer_.erase(0, end);
        return out;
      }
    }
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      return make_error(ErrorCode::kExecTimeout, "console: no '{}' (got '{}')", needle,
                        buffer_.substr(buffer_.size() > 300 ? buffer_.size() - 300 : 0));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0)
      continue;
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n <= 0)
      return make_error(ErrorCode::kIoFailed, "console closed");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Status wait_for_file_text(const std::string& path, const std::string& needle, int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    auto text = fs::read_file(path);
    if (text && text->find(needle) != std::string::npos)
      return ok();
    if (now_ms() >= deadline) {
      return make_error(ErrorCode::kExecTimeout, "no '{}' in {}", needle, path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace lobster::vmm::testing
