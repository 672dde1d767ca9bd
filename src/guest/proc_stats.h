// Parsers for the /proc files the agent reads (pure: they take file contents).
#pragma once

#include <cstdint>
#include <string_view>

namespace lobster::guest {

// Spec §9.1: lines of /proc/net/tcp or /proc/net/tcp6 (header skipped) in state 01
// (ESTABLISHED) whose LOCAL port is `local_port`: inbound client connections to the gateway.
// (The original read only tcp, missing clients of a gateway listening on "::".)
int count_established_inbound(std::string_view proc_net_tcp, uint16_t local_port);

// Connections the guest opened itself and keeps open (an LLM call or a channel long-poll in
// flight is work, spec §16 item 23): ESTABLISHED sockets in /proc/net/tcp and /proc/net/tcp6
// whose local port is not one the guest listens on (so not a client of the gateway, SSH or
// the agent) and whose remote address is not loopback (in-guest RPCs are not work).
int count_established_outbound(std::string_view proc_net_tcp, std::string_view proc_net_tcp6);

// VmRSS (kB) from /proc/<pid>/status, 0 if absent.
int64_t parse_vm_rss_kb(std::string_view proc_status);

}  // namespace lobster::guest
