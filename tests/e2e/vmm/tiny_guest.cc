#include "tiny_guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/fs.h"
#include "e2e/common/raw_guest.h"
#include "host/process/process.h"
#include "image/builder.h"
#include "image/config_disk.h"
#include "image/kernel.h"
#include "image/overlay.h"

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

Status make_tap(const std::string& name, uint32_t uid) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd)
    return errno_error(ErrorCode::kTapCreateFailed, "open tun");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  // Kernel ABI: TUNSETIFF/TUNSETOWNER/TUNSETPERSIST take an ifreq / integer values.
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0 ||
      ::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(uid)) != 0 ||
      ::ioctl(fd.get(), TUNSETPERSIST, 1UL) != 0) {
    return errno_error(ErrorCode::kTapCreateFailed, "create TAP " + name);
  }
  return ok();
}

Result<MinimalGuest> prepare_minimal_guest(process::ProcessRunner& runner, const std::string& dir,
                                           const std::string& agent_token,
                                           const std::string& guest_ip,
                                           const std::string& host_ip) {
  Paths paths = Paths::under(dir);
  image::BuildOptions opt;
  opt.profile = "minimal";
  auto built = LOB_TRY(image::build_image(runner, paths, opt));
  std::string overlay = dir + "/t1.ovl.ext4";
  if (!fs::exists(overlay))
    LOB_TRY(image::create_overlay(runner, overlay, 256));
  std::string hostkey = dir + "/hostkey";
  if (!fs::exists(hostkey)) {
    LOB_TRY(runner.run_checked({"dropbearkey", "-t", "ed25519", "-f", hostkey}));
  }
  image::ConfigDisk cfg;
  cfg.hostname = "t1";
  cfg.agent_token = agent_token;
  cfg.gateway_token = "vmm-test-gateway-token";
  cfg.address = guest_ip;
  cfg.gateway = host_ip;
  cfg.ssh_host_key = LOB_TRY(fs::read_file(hostkey));
  cfg.host_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::string cfg_path = dir + "/t1.config.img";
  LOB_TRY(image::write_config_disk(cfg_path, cfg));
  MinimalGuest g;
  g.kernel = built.dir + "/vmlinux";
  g.initramfs = built.dir + "/initramfs.cpio";
  g.cmdline = "console=ttyS0 reboot=k panic=1 quiet";
  RateLimiter disk_limit{TokenBucket{52428800, 0, 1000}, TokenBucket{5000, 0, 1000}};
  g.drives = {{cfg_path, true, std::nullopt},
              {built.dir + "/rootfs.ext4", true, disk_limit},
              {overlay, false, disk_limit}};
  return g;
}

std::string agent_ping(const std::string& ip, int port, const std::string& token,
                       int64_t timeout_ms) {
  return e2e::agent_request(ip, port,
                            nlohmann::json{{"type", "health-ping"}, {"token", token}}.dump() + "\n",
                            timeout_ms);
}

std::string agent_ping_until(const std::string& ip, int port, const std::string& token,
                             int64_t timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  std::string reply;
  while (reply.empty() && now_ms() < deadline) {
    reply = agent_ping(ip, port, token, std::min<int64_t>(10000, deadline - now_ms() + 1));
    if (reply.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return reply;
}

}  // namespace lobster::vmm::testing
