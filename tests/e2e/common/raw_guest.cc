#include "e2e/common/raw_guest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "core/fs.h"
#include "core/unique_fd.h"
#include "image/config_disk.h"
#include "image/overlay.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::e2e {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status run(process::ProcessRunner& runner, const std::vector<std::string>& argv) {
  LOB_TRY(runner.run_checked(argv));
  return ok();
}

}  // namespace

std::string tcg_clock_cmdline() {
  const int64_t khz = vmm::qemu::host_tsc_khz();
  return khz > 0 ? " tsc_early_khz=" + std::to_string(khz) + " tsc=reliable" : "";
}

Status RawGuest::prepare(process::ProcessRunner& runner) {
  const std::string& d = o_.dir;
  LOB_TRY(image::create_overlay(runner, d + "/overlay.ext4", o_.overlay_mib));
  LOB_TRY(run(runner, {"dropbearkey", "-t", "ed25519", "-f", d + "/hostkey"}));
  LOB_TRY(run(runner, {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "raw-guest", "-f",
                       d + "/client"}));
  image::ConfigDisk cfg;
  cfg.hostname = o_.hostname;
  cfg.agent_token = o_.agent_token;
  cfg.gateway_token = o_.gateway_token;
  cfg.address = kGuestIp;
  cfg.gateway = kHostIp;
  cfg.ssh_authorized_key = LOB_TRY(fs::read_file(d + "/client.pub"));
  cfg.ssh_host_key = LOB_TRY(fs::read_file(d + "/hostkey"));
  cfg.host_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  LOB_TRY(image::write_config_disk(d + "/config.img", cfg));
  auto pub = LOB_TRY(runner.run_checked({"dropbearkey", "-y", "-f", d + "/hostkey"}));
  const size_t at = pub.out.find("ssh-ed25519 ");
  if (at == std::string::npos)
    return make_error(ErrorCode::kInternal, "dropbearkey printed no public key: {}", pub.out);
  const std::string key = pub.out.substr(at, pub.out.find('\n', at) - at);
  LOB_TRY(fs::write_file_atomic(d + "/known_hosts", std::string(kGuestIp) + " " + key + "\n"));
  LOB_TRY(run(runner, {"ip", "tuntap", "add", "dev", o_.tap, "mode", "tap"}));
  LOB_TRY(run(runner, {"ip", "addr", "add", std::string(kHostIp) + "/30", "dev", o_.tap}));
  return run(runner, {"ip", "link", "set", o_.tap, "up"});
}

Status RawGuest::start(const std::string& image_dir) {
  const std::string i = image_dir + "/";
  const std::string& d = o_.dir;
  std::vector<std::string> argv = {
      "qemu-system-x86_64",
      "-M",
      "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on",
      "-m",
      "256",
      "-smp",
      "1",
      "-nodefaults",
      "-no-user-config",
      "-nographic",
      "-no-reboot",
      "-kernel",
      i + "vmlinux",
      "-initrd",
      i + "initramfs.cpio",
      "-append",
      "console=ttyS0 reboot=k panic=1 quiet" + o_.extra_cmdline + tcg_clock_cmdline(),
      "-serial",
      "file:" + d + "/serial.log",
      "-drive",
      "id=cfg,file=" + d + "/config.img,format=raw,if=none,readonly=on",
      "-device",
      "virtio-blk-device,drive=cfg",
      "-drive",
      "id=root,file=" + i + "rootfs.ext4,format=raw,if=none,readonly=on",
      "-device",
      "virtio-blk-device,drive=root",
      "-drive",
      "id=ovl,file=" + d + "/overlay.ext4,format=raw,if=none",
      "-device",
      "virtio-blk-device,drive=ovl",
      "-netdev",
      "tap,id=n0,ifname=" + o_.tap + ",script=no,downscript=no",
      "-device",
      "virtio-net-device,netdev=n0"};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string log = d + "/qemu.log";
  pid_ = ::fork();
  if (pid_ < 0)
    return errno_error(ErrorCode::kInternal, "fork");
  if (pid_ == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(devnull, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  return ok();
}

void RawGuest::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

std::string RawGuest::serial() const { return fs::read_file(o_.dir + "/serial.log").value_or(""); }

std::string RawGuest::wait_for_serial(const std::string& marker, int64_t timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  std::string log;
  while (now_ms() < deadline) {
    log = serial();
    if (log.find(marker) != std::string::npos || log.find("FATAL") != std::string::npos)
      break;
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return log;
}

Result<process::RunResult> RawGuest::ssh(process::ProcessRunner& runner, const std::string& command,
                                         int64_t timeout_ms) const {
  return runner.run(
      {"ssh", "-i", o_.dir + "/client", "-o", "BatchMode=yes", "-o",
       "UserKnownHostsFile=" + o_.dir + "/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o",
       "ConnectTimeout=30", std::string("root@") + kGuestIp, command},
      {.timeout_ms = timeout_ms});
}

std::string agent_request(const std::string& ip, int port, const std::string& line,
                          int64_t timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  auto left = [&] { return static_cast<int>(std::max<int64_t>(deadline - now_ms(), 1)); };
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  // Kernel ABI: sockaddr_in is the AF_INET form of sockaddr.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    return "";
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, left()) != 1)
    return "";
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0 || ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
                      static_cast<ssize_t>(line.size())) {
    return "";
  }
  std::string reply;
  char buf[4096];
  while (now_ms() < deadline) {
    p = {fd.get(), POLLIN, 0};
    if (::poll(&p, 1, left()) != 1)
      continue;
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n <= 0)
      break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

}  // namespace lobster::e2e
