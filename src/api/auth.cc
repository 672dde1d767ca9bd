#include "api/auth.h"

#include <grp.h>

#include <algorithm>
#include <sstream>

#include "core/fs.h"

namespace lobster::api {

std::optional<gid_t> lookup_group(const std::string& name) {
  group grp{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

Result<std::vector<gid_t>> process_groups(const std::string& proc_root, pid_t pid, uid_t uid) {
  std::string path = proc_root + "/" + std::to_string(pid) + "/status";
  auto text = fs::read_file(path);
  if (!text) {
    return make_error(ErrorCode::kPermissionDenied, "cannot read groups of peer pid {}: {}", pid,
                      text.error().message);
  }
  std::istringstream in(*text);
  std::string line;
  bool uid_matches = false;
  std::optional<std::vector<gid_t>> groups;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      long long real = -1, effective = -1;
      fields >> real >> effective;
      uid_matches = effective == static_cast<long long>(uid);
    } else if (line.rfind("Groups:", 0) == 0) {
      std::istringstream fields(line.substr(7));
      groups.emplace();
      long long g = 0;
      while (fields >> g) {
        if (g >= 0)
          groups->push_back(static_cast<gid_t>(g));
      }
    }
  }
  if (!uid_matches || !groups) {
    return make_error(ErrorCode::kPermissionDenied, "peer pid {} changed identity or has no groups",
                      pid);
  }
  return std::move(*groups);
}

Status authorize_peer(const Peer& peer, std::optional<gid_t> api_gid,
                      const std::string& proc_root) {
  if (peer.uid == 0)
    return ok();
  auto denied = [&] {
    Error e{ErrorCode::kPermissionDenied,
            fmt::format("uid {} is neither root nor a member of group {}", peer.uid, kApiGroup)};
    e.hint = fmt::format("run as root, or add the user to group {} (usermod -aG {} USER)",
                         kApiGroup, kApiGroup);
    return make_error(std::move(e));
  };
  if (!api_gid)
    return denied();
  if (peer.gid == *api_gid)
    return ok();
  // The groups are read after connect(); a peer that exits early is denied, and a reused pid
  // must still carry the uid SO_PEERCRED reported.
  auto groups = process_groups(proc_root, peer.pid, peer.uid);
  if (!groups)
    return denied();
  if (std::find(groups->begin(), groups->end(), *api_gid) != groups->end())
    return ok();
  return denied();
}

}  // namespace lobster::api
