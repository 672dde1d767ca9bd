// KVM probe: is /dev/kvm present AND able to run a guest? On some hosts the device exists but
// ordinary guests die with "KVM internal error" (nested kvm-pvm), so "usable" means a tiny VM
// really executed code: one vCPU in real mode running three HLT instructions.
//
// The probe runs in a forked child with an alarm, so a wedged KVM_RUN cannot hang the caller.
// Call it before the caller starts threads. The VMM module will add a full probe VM later.
#pragma once

#include <string>

namespace lobster::daemon {

struct KvmProbe {
  bool present = false;  // the device node exists
  bool usable = false;   // the probe VM ran to its HLTs
  std::string detail;    // why not usable, or what ran
};

KvmProbe probe_kvm(const std::string& device = "/dev/kvm", int timeout_ms = 5000);

}  // namespace lobster::daemon
