// Firewall rules as values: what lobsterd wants in the kernel for one tenant, written in the
// exact canonical form `iptables-save` prints, so applied state can be compared text-for-text.
//
// Layout (DESIGN.md "Network", spec §5.3 with §16 items 14-16 fixed):
//   filter INPUT   -> LOBSTER-INPUT   --(-i lt<id>)--> LOB-<id>-IN   guest -> host
//   filter FORWARD -> LOBSTER-FORWARD --(-i/-o lt<id>)--> LOB-<id>-FWD  guest <-> elsewhere
//   filter OUTPUT  -> LOBSTER-OUTPUT  --(-o lt<id>)--> LOB-<id>-OUT  host processes -> guest
//   nat PREROUTING -> LOBSTER-PREROUTING (opt-in public DNAT only)
//   nat POSTROUTING-> LOBSTER-POSTROUTING (MASQUERADE of guest egress)
// Each tenant owns its LOB-<id>-* chains; the shared LOBSTER-* chains only hold one dispatch
// rule per tenant and direction, so adding or removing a tenant touches O(1) rules.
//
//   RuleSet rs = tenant_rules(tenant, options);   // unit tests compare rs exactly
//   std::string batch = add_batch(rs);             // one `iptables-restore --noflush` input
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "host/net/subnet.h"

namespace lobster::firewall {

enum class Table { kFilter, kNat };
std::string_view table_name(Table table);

inline constexpr std::string_view kInputChain = "LOBSTER-INPUT";
inline constexpr std::string_view kForwardChain = "LOBSTER-FORWARD";
inline constexpr std::string_view kOutputChain = "LOBSTER-OUTPUT";
inline constexpr std::string_view kPreroutingChain = "LOBSTER-PREROUTING";
inline constexpr std::string_view kPostroutingChain = "LOBSTER-POSTROUTING";

// One rule: `-A <chain> <spec>` in `table`.
struct Rule {
  Table table = Table::kFilter;
  std::string chain;
  std::string spec;
  bool operator==(const Rule&) const = default;
  std::string to_string() const;  // "filter: -A CHAIN spec"
};

struct PublicPort {
  net::Ipv4 bind;     // the host address that accepts it (never 0.0.0.0: spec §16 item 14)
  uint16_t port = 0;  // host port forwarded to the guest's gateway port
  bool operator==(const PublicPort&) const = default;
};

struct TenantNet {
  uint32_t tap_id = 0;  // the store's TAP id: TAP "lt<id>", chains "LOB-<id>-*"
  net::Ipv4 host_ip;    // TAP side of the /30
  net::Ipv4 guest_ip;
  std::optional<PublicPort> public_port;  // opt-in public DNAT; none by default
  std::string tap() const { return net::tap_name(tap_id); }
  bool operator==(const TenantNet&) const = default;
};

struct Options {
  uint16_t gateway_port = 9000;
  uint16_t agent_port = 52;
  uint16_t health_port = 53;
  uint16_t ssh_port = 22;
  // true: agent and health ports only from root-owned host sockets (spec buoy.agentLockdown).
  // SSH is always root-only (spec §16 item 16).
  bool agent_lockdown = true;
  // A non-root uid the proxy (Caddy) runs as; it may reach the gateway port. Root always may.
  std::optional<uint32_t> proxy_uid;
  uint32_t connlimit = 1024;  // concurrent connections a guest may open (per source address)
  // Optional packet-rate caps (packets/s) for guest egress / ingress; nullopt = unlimited.
  std::optional<uint32_t> egress_pps;
  std::optional<uint32_t> ingress_pps;
  bool operator==(const Options&) const = default;
};

// Options derived from the config: lockdown from buoy.agentLockdown, packet rates from the ops
// buckets of firecracker.network{Tx,Rx}RateLimit (bandwidth buckets are the VMM's job).
Options options_from_config(const Config& config);

struct RuleSet {
  // Chains the tenant owns (created and deleted with it), in creation order.
  std::vector<std::pair<Table, std::string>> chains;
  // Every rule, owned chains first, then dispatch rules in the shared LOBSTER-* chains.
  std::vector<Rule> rules;
  bool operator==(const RuleSet&) const = default;
};

// "LOB-<id>-<suffix>".
std::string tenant_chain(uint32_t tap_id, std::string_view suffix);

// The tenant's complete rule set. Pure; tests compare it exactly.
RuleSet tenant_rules(const TenantNet& tenant, const Options& options);

// The shared chains (table, name) and their builtin parents, jumped from position 1.
struct BaseChain {
  Table table;
  std::string_view builtin;
  std::string_view chain;
};
const std::vector<BaseChain>& base_chains();
bool is_base_chain(std::string_view chain);
// Ours: base chains and LOB-* tenant chains.
bool is_our_chain(std::string_view chain);

// Input for `iptables-restore --noflush` that creates the tenant's chains (`-N`, so the whole
// batch fails atomically if they already exist) and appends every rule.
std::string add_batch(const RuleSet& rules);
// Input that deletes the dispatch rules and then flushes and deletes the tenant's chains;
// fails atomically if any piece is missing.
std::string remove_batch(const RuleSet& rules);

}  // namespace lobster::firewall
