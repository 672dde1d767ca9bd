// Authorization of API socket peers (SO_PEERCRED): root, or a process whose primary or
// supplementary groups include the `lobsterd` group. Everything else gets 403
// PERMISSION_DENIED. The socket's 0660 mode is the first fence; this check is the second
// (it also covers a socket whose mode was loosened by hand).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "api/router.h"
#include "core/error.h"

namespace lobster::api {

inline constexpr const char* kApiGroup = "lobsterd";

// The gid of group `name`, or nullopt if it does not exist.
std::optional<gid_t> lookup_group(const std::string& name);

// Supplementary groups of `pid` from <proc_root>/<pid>/status ("Groups:" line), provided its
// effective uid ("Uid:" line) is still `uid` (guards against pid reuse after SO_PEERCRED).
// Errors: kPermissionDenied if the process is gone, changed uid or the file is unreadable.
Result<std::vector<gid_t>> process_groups(const std::string& proc_root, pid_t pid, uid_t uid);

// Ok for uid 0 or a member of `api_gid`; else kPermissionDenied naming the uid.
Status authorize_peer(const Peer& peer, std::optional<gid_t> api_gid,
                      const std::string& proc_root = "/proc");

}  // namespace lobster::api
