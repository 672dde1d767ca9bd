// Waiting for the jailed Firecracker's API socket, and the jail's pid file.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "core/fs.h"
#include "vmm/firecracker/firecracker_vm.h"
#include "vmm/firecracker/jail_process.h"

namespace lobster::vmm::firecracker {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool socket_accepts(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX sockets.
  return fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

std::string exec_name_of(const JailLayout& layout) {
  const std::string& p = layout.jailer.firecracker_path;
  return p.substr(p.find_last_of('/') + 1);
}

// A jail left behind may still hold a live VMM (e.g. the daemon lost track of it): never pull
// the jail from under it. kInvalidState names the pid so the operator can attach or stop it.
Status refuse_live_vmm(const JailLayout& layout, const std::string& proc_root) {
  const std::string exec_name = exec_name_of(layout);
  auto text = fs::read_file(layout.root + "/" + exec_name + ".pid");
  const pid_t pid = text ? static_cast<pid_t>(std::atoi(text->c_str())) : 0;
  if (pid <= 0)
    return ok();
  auto id = identity_of(pid, proc_root);
  // The jailer runs its own copy of Firecracker from inside the jail, so the exe path names
  // this VM; a binary run in place (no copy) is matched by its path.
  if (id &&
      (id->exe == layout.root + "/" + exec_name || id->exe == layout.jailer.firecracker_path)) {
    return make_error(ErrorCode::kInvalidState,
                      "{} still has a running VMM (pid {}); attach to it or stop it first",
                      layout.jailer.vm_id, pid);
  }
  return ok();
}

// Waits for a connectable api.socket. Wakes on inotify events in the jail root and on the
// process exiting, re-checking at most every 25 ms (the socket file appears at bind(), before
// listen(), and the jailer's pivot_root may hide events). With --new-pid-ns the jailer exits 0
// after writing <exec>.pid; the wait then follows that process.
Result<Watched> wait_for_api(const JailLayout& layout, SpawnedProcess jailer, int64_t timeout_ms) {
  const int64_t deadline = mono_ms() + timeout_ms;
  UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify) {
    ::inotify_add_watch(inotify.get(), layout.root.c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB);
  }
  Watched w{jailer.pid, std::move(jailer.pidfd)};
  bool following = false;
  const std::string pid_file = layout.root + "/" + exec_name_of(layout) + ".pid";
  for (;;) {
    if (auto how = exit_description(w.pidfd.get())) {
      if (!following && layout.jailer.new_pid_ns && *how == "exit status 0" &&
          fs::exists(pid_file)) {
        auto text = fs::read_file(pid_file);
        const pid_t pid = text ? static_cast<pid_t>(std::atoi(text->c_str())) : 0;
        auto fd = pid > 0 ? open_pidfd(pid)
                          : Result<UniqueFd>(make_error(ErrorCode::kInvalidState, "bad pid file"));
        if (fd) {
          w = Watched{pid, std::move(*fd)};
          following = true;
          continue;
        }
        how = "exited right after the jailer started it";
      }
      Error e{ErrorCode::kJailerSetupFailed,
              fmt::format("{} for {} exited before its API socket appeared ({})",
                          following ? "Firecracker" : "jailer", layout.jailer.vm_id, *how)};
      e.detail = failure_detail(layout);
      return make_error(std::move(e));
    }
    // With --new-pid-ns the socket may be up before the jailer has exited: the VMM process to
    // keep is the one named in the pid file, so wait for the jailer's exit first.
    const bool vmm_known = following || !layout.jailer.new_pid_ns;
    if (vmm_known && socket_accepts(layout.socket))
      return w;
    const int64_t left = deadline - mono_ms();
    if (left <= 0) {
      (void)kill_and_wait(w.pidfd.get(), 5'000);
      Error e{ErrorCode::kExecTimeout,
              fmt::format("Firecracker API socket {} did not appear within {} ms (VMM killed)",
                          layout.socket, timeout_ms)};
      e.detail = failure_detail(layout);
      return make_error(std::move(e));
    }
    pollfd fds[2] = {{w.pidfd.get(), POLLIN, 0}, {inotify.get(), POLLIN, 0}};
    ::poll(fds, inotify ? 2 : 1, static_cast<int>(std::min<int64_t>(left, 25)));
    char drain[4096];
    while (inotify && ::read(inotify.get(), drain, sizeof(drain)) > 0) {
    }
  }
}

}  // namespace lobster::vmm::firecracker
