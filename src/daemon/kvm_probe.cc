#include "daemon/kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "core/unique_fd.h"

namespace lobster::daemon {
namespace {

// Child exit codes: which step failed (mapped to text by the parent).
enum ProbeExit : int {
  kProbeOk = 0,
  kOpenFailed = 10,
  kBadApiVersion,
  kCreateVmFailed,
  kMemoryFailed,
  kCreateVcpuFailed,
  kRegsFailed,
  kRunFailed,
  kWrongExit,
};

const char* exit_text(int code) {
  switch (code) {
    case kOpenFailed:
      return "cannot open the device";
    case kBadApiVersion:
      return "unexpected KVM API version";
    case kCreateVmFailed:
      return "KVM_CREATE_VM failed";
    case kMemoryFailed:
      return "guest memory setup failed";
    case kCreateVcpuFailed:
      return "KVM_CREATE_VCPU failed";
    case kRegsFailed:
      return "vCPU register setup failed";
    case kRunFailed:
      return "KVM_RUN failed";
    case kWrongExit:
      return "the probe VM did not halt (KVM internal error or emulation failure)";
    default:
      return "probe failed";
  }
}

// Runs in the forked child only; returns a ProbeExit.
int run_probe(const char* device) {
  UniqueFd kvm(::open(device, O_RDWR | O_CLOEXEC));
  if (!kvm)
    return kOpenFailed;
  if (::ioctl(kvm.get(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    return kBadApiVersion;
  UniqueFd vm(::ioctl(kvm.get(), KVM_CREATE_VM, 0UL));
  if (!vm)
    return kCreateVmFailed;
  constexpr size_t kMemSize = 0x1000;
  constexpr uint64_t kGuestAddr = 0x1000;
  void* mem = ::mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return kMemoryFailed;
  std::memset(mem, 0xf4, 16);  // 0xf4 = HLT
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = kGuestAddr;
  region.memory_size = kMemSize;
  // Kernel ABI: userspace_addr is the host virtual address of the guest memory, as a u64.
  region.userspace_addr = reinterpret_cast<uint64_t>(mem);
  if (::ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0)
    return kMemoryFailed;
  UniqueFd vcpu(::ioctl(vm.get(), KVM_CREATE_VCPU, 0UL));
  if (!vcpu)
    return kCreateVcpuFailed;
  int run_size = ::ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0)
    return kCreateVcpuFailed;
  void* run_mem = ::mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED,
                         vcpu.get(), 0);
  if (run_mem == MAP_FAILED)
    return kCreateVcpuFailed;
  // Kernel ABI: the vCPU mmap area starts with struct kvm_run.
  auto* run = static_cast<kvm_run*>(run_mem);
  kvm_sregs sregs{};
  if (::ioctl(vcpu.get(), KVM_GET_SREGS, &sregs) != 0)
    return kRegsFailed;
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (::ioctl(vcpu.get(), KVM_SET_SREGS, &sregs) != 0)
    return kRegsFailed;
  kvm_regs regs{};
  regs.rip = kGuestAddr;
  regs.rflags = 0x2;  // bit 1 is reserved and must be set
  if (::ioctl(vcpu.get(), KVM_SET_REGS, &regs) != 0)
    return kRegsFailed;
  for (int i = 0; i < 3; ++i) {
    if (::ioctl(vcpu.get(), KVM_RUN, 0) != 0)
      return kRunFailed;
    if (run->exit_reason != KVM_EXIT_HLT)
      return kWrongExit;
  }
  return kProbeOk;
}

}  // namespace

KvmProbe probe_kvm(const std::string& device, int timeout_ms) {
  KvmProbe result;
  if (::access(device.c_str(), F_OK) != 0) {
    result.detail = device + " does not exist";
    return result;
  }
  result.present = true;
  pid_t child = ::fork();
  if (child < 0) {
    result.detail = std::string("fork for the KVM probe failed: ") + std::strerror(errno);
    return result;
  }
  if (child == 0) {
    ::alarm(static_cast<unsigned>((timeout_ms + 999) / 1000));  // default action: terminate
    ::_exit(run_probe(device.c_str()));
  }
  int status = 0;
  if (::waitpid(child, &status, 0) < 0) {
    result.detail = std::string("waitpid for the KVM probe failed: ") + std::strerror(errno);
    return result;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kProbeOk) {
    result.usable = true;
    result.detail = "a probe vCPU ran to HLT (booting a full guest is verified by the VMM driver)";
  } else if (WIFSIGNALED(status)) {
    result.detail = WTERMSIG(status) == SIGALRM
                        ? "the probe VM did not halt within the timeout"
                        : std::string("the probe died of signal ") + strsignal(WTERMSIG(status));
  } else {
    result.detail = exit_text(WEXITSTATUS(status));
  }
  return result;
}

}  // namespace lobster::daemon
