// SaveState: `iptables-save` output parsed into tables, chains and ordered rule specs, so the
// verifier and the reconcile planner can work on plain values (tests feed synthetic text).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "host/firewall/rules.h"

namespace lobster::firewall {

struct TableState {
  std::vector<std::string> chains;                        // declaration order
  std::map<std::string, std::vector<std::string>> rules;  // chain -> specs in order
  bool has_chain(std::string_view chain) const;
  const std::vector<std::string>& rules_of(std::string_view chain) const;  // empty if none
};

struct SaveState {
  std::map<Table, TableState> tables;      // only filter and nat are kept
  const TableState& table(Table t) const;  // empty if absent
};

// Parses iptables-save text. Tables other than filter and nat are skipped. Malformed input
// (rule outside a table, unknown directive) -> kFirewallFailed.
Result<SaveState> parse_save(std::string_view text);

// iptables-save text without comment lines and with every "[packets:bytes]" counter zeroed,
// for "identical ignoring counters" comparisons.
std::string normalize_save(std::string_view text);

}  // namespace lobster::firewall
