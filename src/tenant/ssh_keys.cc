#include "tenant/ssh_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "core/fs.h"

namespace lobster::tenant {

std::string known_hosts_line(const std::string& guest_ip, const std::string& host_public_key) {
  // Only the key type and base64 body: dropbear appends a comment we do not want to pin.
  std::istringstream in(host_public_key);
  std::string type, body;
  in >> type >> body;
  return guest_ip + " " + type + " " + body + "\n";
}

Result<SshIdentity> create_ssh_identity(process::ProcessRunner& runner, const std::string& dir,
                                        const std::string& tenant, const std::string& guest_ip) {
  LOB_TRY(fs::ensure_dir(dir, 0700));
  SshIdentity id;
  std::string key = dir + "/id_ed25519";
  ::unlink(key.c_str());
  ::unlink((key + ".pub").c_str());
  LOB_TRY(runner.run_checked(
      {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lobsterd-" + tenant, "-f", key}));
  if (::chmod(key.c_str(), 0600) != 0)
    return errno_error(ErrorCode::kIoFailed, "chmod " + key);
  id.client_public_key = LOB_TRY(fs::read_file(key + ".pub"));
  while (!id.client_public_key.empty() && id.client_public_key.back() == '\n') {
    id.client_public_key.pop_back();
  }

  // The guest host key is generated into the 0700 dir, read, and deleted: its only copy lives
  // on the tenant's 0600 config disk.
  std::string host_key = dir + "/guest_host_key";
  ::unlink(host_key.c_str());
  LOB_TRY(runner.run_checked({"dropbearkey", "-t", "ed25519", "-f", host_key}));
  auto pub = runner.run_checked({"dropbearkey", "-y", "-f", host_key});
  auto bytes = fs::read_file(host_key);
  ::unlink(host_key.c_str());
  if (!pub)
    return make_error(pub.error());
  if (!bytes)
    return make_error(bytes.error());
  id.host_key_dropbear = *bytes;
  std::istringstream lines(pub->out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("ssh-ed25519 "))
      id.host_public_key = line;
  }
  if (id.host_public_key.empty()) {
    return make_error(ErrorCode::kExecFailed, "dropbearkey -y printed no ssh-ed25519 key");
  }
  LOB_TRY(fs::write_file_atomic(dir + "/known_hosts",
                                known_hosts_line(guest_ip, id.host_public_key), 0600));
  return id;
}

}  // namespace lobster::tenant
