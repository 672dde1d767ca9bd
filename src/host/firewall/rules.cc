#include "host/firewall/rules.h"

#include <array>
#include <map>

namespace lobster::firewall {

std::string_view table_name(Table table) {
  switch (table) {
    case Table::kFilter:
      return "filter";
    case Table::kNat:
      return "nat";
  }
  return "filter";
}

std::string Rule::to_string() const {
  return fmt::format("{}: -A {} {}", table_name(table), chain, spec);
}

std::string tenant_chain(uint32_t tap_id, std::string_view suffix) {
  return fmt::format("LOB-{}-{}", tap_id, suffix);
}

const std::vector<BaseChain>& base_chains() {
  static const std::vector<BaseChain> kBase = {
      {Table::kFilter, "INPUT", kInputChain},
      {Table::kFilter, "FORWARD", kForwardChain},
      {Table::kFilter, "OUTPUT", kOutputChain},
      {Table::kNat, "PREROUTING", kPreroutingChain},
      {Table::kNat, "POSTROUTING", kPostroutingChain},
  };
  return kBase;
}

bool is_base_chain(std::string_view chain) {
  for (const auto& b : base_chains()) {
    if (b.chain == chain) {
      return true;
    }
  }
  return false;
}

bool is_our_chain(std::string_view chain) {
  return is_base_chain(chain) || chain.starts_with("LOB-");
}

Options options_from_config(const Config& config) {
  Options o;
  o.gateway_port = 9000;
  o.agent_port = static_cast<uint16_t>(config.vsock.agent_port);
  o.health_port = static_cast<uint16_t>(config.vsock.health_port);
  o.agent_lockdown = !config.buoy.has_value() || config.buoy->agent_lockdown;
  auto pps = [](const std::optional<RateLimiter>& rl) -> std::optional<uint32_t> {
    if (!rl || !rl->ops || rl->ops->size <= 0 || rl->ops->refill_time_ms <= 0) {
      return std::nullopt;
    }
    int64_t per_sec = rl->ops->size * 1000 / rl->ops->refill_time_ms;
    return static_cast<uint32_t>(std::max<int64_t>(1, per_sec));
  };
  o.egress_pps = pps(config.firecracker.network_tx_rate_limit);
  o.ingress_pps = pps(config.firecracker.network_rx_rate_limit);
  return o;
}

namespace {

// The private and special ranges a guest may never reach (spec §5.3 plus 100.64/10).
constexpr std::array<std::string_view, 5> kBlockedRanges = {
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"};

constexpr std::string_view kEstablished = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";

}  // namespace

RuleSet tenant_rules(const TenantNet& t, const Options& o) {
  RuleSet rs;
  const std::string tap = t.tap();
  const std::string in = tenant_chain(t.tap_id, "IN");
  const std::string fwd = tenant_chain(t.tap_id, "FWD");
  const std::string out = tenant_chain(t.tap_id, "OUT");
  const std::string guest = t.guest_ip.to_string();
  rs.chains = {{Table::kFilter, in}, {Table::kFilter, fwd}, {Table::kFilter, out}};
  auto add = [&rs](Table table, const std::string& chain, std::string spec) {
    rs.rules.push_back(Rule{table, chain, std::move(spec)});
  };
  auto filter = [&add](const std::string& chain, std::string spec) {
    add(Table::kFilter, chain, std::move(spec));
  };

  // Guest -> host (INPUT): only replies to connections the host opened.
  filter(in, std::string(kEstablished));
  filter(in, "-j DROP");

  // Guest -> anywhere (FORWARD, -i tap). Replies to forwarded inbound flows (opt-in DNAT) come
  // first so a LAN client's private address does not hit the range drops below.
  filter(fwd, fmt::format("-i {} {}", tap, kEstablished));
  filter(fwd, fmt::format("! -s {}/32 -i {} -j DROP", guest, tap));        // spoofed source
  filter(fwd, fmt::format("-i {} -o {}+ -j DROP", tap, net::kTapPrefix));  // other tenants
  for (std::string_view range : kBlockedRanges) {
    filter(fwd, fmt::format("-d {} -i {} -j DROP", range, tap));
  }
  if (o.egress_pps) {
    filter(fwd, fmt::format("-i {} -m hashlimit --hashlimit-above {}/sec --hashlimit-burst {} "
                            "--hashlimit-mode srcip --hashlimit-name {}-tx -j DROP",
                            tap, *o.egress_pps, *o.egress_pps, tap));
  }
  filter(fwd, fmt::format("-i {} -m connlimit --connlimit-above {} --connlimit-mask 32 "
                          "--connlimit-saddr -j DROP",
                          tap, o.connlimit));
  filter(fwd, fmt::format("-i {} -j ACCEPT", tap));

  // Anywhere -> guest (FORWARD, -o tap): replies, the opt-in DNAT, nothing else (§16 item 15).
  if (o.ingress_pps) {
    filter(fwd, fmt::format("-o {} -m hashlimit --hashlimit-above {}/sec --hashlimit-burst {} "
                            "--hashlimit-mode dstip --hashlimit-name {}-rx -j DROP",
                            tap, *o.ingress_pps, *o.ingress_pps, tap));
  }
  filter(fwd, fmt::format("-o {} {}", tap, kEstablished));
  if (t.public_port) {
    filter(fwd, fmt::format("-o {} -p tcp -m tcp --dport {} -m conntrack --ctstate DNAT -j ACCEPT",
                            tap, o.gateway_port));
  }
  filter(fwd, fmt::format("-o {} -j DROP", tap));

  // Host processes -> guest (OUTPUT): the proxy reaches the gateway; agent, health and SSH
  // only from root-owned sockets; everyone else is refused at once.
  filter(out, std::string(kEstablished));
  filter(out, fmt::format("-p tcp -m multiport --dports {},{},{},{} -m owner --uid-owner 0 "
                          "-j ACCEPT",
                          o.ssh_port, o.agent_port, o.health_port, o.gateway_port));
  if (o.proxy_uid && *o.proxy_uid != 0) {
    filter(out, fmt::format("-p tcp -m tcp --dport {} -m owner --uid-owner {} -j ACCEPT",
                            o.gateway_port, *o.proxy_uid));
  }
  if (!o.agent_lockdown) {
    filter(out, fmt::format("-p tcp -m multiport --dports {},{} -j ACCEPT", o.agent_port,
                            o.health_port));
  }
  filter(out, "-p tcp -j REJECT --reject-with tcp-reset");
  filter(out, "-j REJECT --reject-with icmp-port-unreachable");

  // Dispatch from the shared chains.
  filter(std::string(kInputChain), fmt::format("-i {} -j {}", tap, in));
  filter(std::string(kForwardChain), fmt::format("-i {} -j {}", tap, fwd));
  filter(std::string(kForwardChain), fmt::format("-o {} -j {}", tap, fwd));
  filter(std::string(kOutputChain), fmt::format("-o {} -j {}", tap, out));

  // NAT: guest egress leaves with the host's address; no public port unless opted in.
  add(Table::kNat, std::string(kPostroutingChain),
      fmt::format("-s {}/32 ! -o {} -j MASQUERADE", guest, tap));
  if (t.public_port) {
    add(Table::kNat, std::string(kPreroutingChain),
        fmt::format("-d {}/32 -p tcp -m tcp --dport {} -j DNAT --to-destination {}:{}",
                    t.public_port->bind.to_string(), t.public_port->port, guest, o.gateway_port));
  }
  return rs;
}

namespace {

bool owned(const RuleSet& rs, Table table, const std::string& chain) {
  for (const auto& [t, c] : rs.chains) {
    if (t == table && c == chain) {
      return true;
    }
  }
  return false;
}

std::string batch(const std::map<Table, std::vector<std::string>>& lines) {
  std::string out;
  for (const auto& [table, ls] : lines) {
    if (ls.empty()) {
      continue;
    }
    out += fmt::format("*{}\n", table_name(table));
    for (const auto& l : ls) {
      out += l;
      out += '\n';
    }
    out += "COMMIT\n";
  }
  return out;
}

}  // namespace

std::string add_batch(const RuleSet& rs) {
  std::map<Table, std::vector<std::string>> lines;
  for (const auto& [table, chain] : rs.chains) {
    lines[table].push_back("-N " + chain);
  }
  // Owned chains are filled before the dispatch rules that jump to them.
  for (bool dispatch : {false, true}) {
    for (const Rule& r : rs.rules) {
      if (owned(rs, r.table, r.chain) != dispatch) {
        lines[r.table].push_back(fmt::format("-A {} {}", r.chain, r.spec));
      }
    }
  }
  return batch(lines);
}

std::string remove_batch(const RuleSet& rs) {
  std::map<Table, std::vector<std::string>> lines;
  for (const Rule& r : rs.rules) {
    if (!owned(rs, r.table, r.chain)) {
      lines[r.table].push_back(fmt::format("-D {} {}", r.chain, r.spec));
    }
  }
  for (const auto& [table, chain] : rs.chains) {
    lines[table].push_back("-F " + chain);
  }
  for (const auto& [table, chain] : rs.chains) {
    lines[table].push_back("-X " + chain);
  }
  return batch(lines);
}

}  // namespace lobster::firewall
