// Per-tenant SSH identity: the host's client keypair (used by `exec`) and the guest's dropbear
// host key, generated on the host so its public half can be pinned in known_hosts before the
// guest ever boots (spec §16 item 17: host key checking is never turned off).
#pragma once

#include <string>

#include "core/error.h"
#include "host/process/process.h"

namespace lobster::tenant {

struct SshIdentity {
  std::string client_public_key;  // "ssh-ed25519 AAAA... lobsterd-<name>"
  std::string host_key_dropbear;  // dropbear-format private host key (raw bytes; secret)
  std::string host_public_key;    // "ssh-ed25519 AAAA..."
};

// Creates <dir> (0700) with id_ed25519 (0600) + .pub and known_hosts pinning the guest's host
// key for `guest_ip`. kExecFailed if ssh-keygen or dropbearkey fail; kIoFailed for files.
Result<SshIdentity> create_ssh_identity(process::ProcessRunner& runner, const std::string& dir,
                                        const std::string& tenant, const std::string& guest_ip);

// known_hosts line for the pinned key.
std::string known_hosts_line(const std::string& guest_ip, const std::string& host_public_key);

}  // namespace lobster::tenant
