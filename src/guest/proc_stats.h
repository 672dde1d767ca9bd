// Parsers for the /proc files the agent reads (pure: they take file contents).
#pragma once

#include <cstdint>
#include <string_view>

namespace lobster::guest {

// Spec §9.1: lines of /proc/net/tcp or /proc/net/tcp6 (header skipped) in state 01
// (ESTABLISHED) whose LOCAL port is `local_port`: inbound client connections to the gateway.
// (The original read only tcp, missing clients of a gateway listening on "::".)
int count_established_inbound(std::string_view proc_net_tcp, uint16_t local_port);

// VmRSS (kB) from /proc/<pid>/status, 0 if absent.
int64_t parse_vm_rss_kb(std::string_view proc_status);

}  // namespace lobster::guest
