#include "host/firewall/plan.h"

#include <algorithm>
#include <map>

namespace lobster::firewall {

std::string_view finding_kind_name(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kMissingRule:
      return "missing rule";
    case Finding::Kind::kDuplicateRule:
      return "duplicate rule";
    case Finding::Kind::kForeignRule:
      return "foreign rule";
    case Finding::Kind::kMisordered:
      return "misordered chain";
    case Finding::Kind::kMissingChain:
      return "missing chain";
    case Finding::Kind::kStaleChain:
      return "stale chain";
    case Finding::Kind::kJumpNotFirst:
      return "jump not first";
  }
  return "unknown";
}

std::string Finding::to_string() const {
  std::string s = fmt::format("{}: {} {}", finding_kind_name(kind), table_name(table), chain);
  if (!spec.empty()) {
    s += " " + spec;
  }
  return s;
}

std::string Report::summary() const {
  std::string out;
  for (const auto& f : findings) {
    out += f.to_string();
    out += '\n';
  }
  return out;
}

namespace {

bool contains_word(std::string_view spec, std::string_view word) {
  size_t pos = 0;
  while ((pos = spec.find(word, pos)) != std::string_view::npos) {
    size_t end = pos + word.size();
    bool left = pos == 0 || spec[pos - 1] == ' ';
    bool right = end == spec.size() || spec[end] == ' ';
    if (left && right) {
      return true;
    }
    pos = end;
  }
  return false;
}

using ChainRules = std::map<std::string, std::vector<std::string>>;

struct Wanted {
  std::map<Table, ChainRules> owned;   // exact order
  std::map<Table, ChainRules> shared;  // multiset
};

Wanted collect(const std::vector<RuleSet>& sets) {
  Wanted w;
  for (const auto& b : base_chains()) {
    w.shared[b.table][std::string(b.chain)];
  }
  for (const RuleSet& rs : sets) {
    for (const auto& [table, chain] : rs.chains) {
      w.owned[table][chain];
    }
    for (const Rule& r : rs.rules) {
      auto& owned = w.owned[r.table];
      if (owned.contains(r.chain)) {
        owned[r.chain].push_back(r.spec);
      } else {
        w.shared[r.table][r.chain].push_back(r.spec);
      }
    }
  }
  return w;
}

std::map<std::string, int> counts(const std::vector<std::string>& specs) {
  std::map<std::string, int> c;
  for (const auto& s : specs) {
    ++c[s];
  }
  return c;
}

struct TableOps {
  std::vector<std::string> create, fill, remove, append, jumps, flush_stale, delete_stale;
  bool empty() const {
    return create.empty() && fill.empty() && remove.empty() && append.empty() && jumps.empty() &&
           flush_stale.empty();
  }
};

}  // namespace

bool belongs_to(std::string_view spec, const TenantNet& t) {
  const std::string tap = t.tap();
  const std::string prefix = fmt::format("LOB-{}-", t.tap_id);
  if (contains_word(spec, tap)) {
    return true;
  }
  size_t j = spec.find("-j " + prefix);
  if (j != std::string_view::npos) {
    return true;
  }
  const std::string guest = t.guest_ip.to_string();
  return contains_word(spec, guest + "/32") ||
         spec.find("--to-destination " + guest + ":") != std::string_view::npos;
}

Plan plan(const SaveState& state, const std::vector<RuleSet>& wanted_sets, const Scope& scope) {
  Plan out;
  Wanted wanted = collect(wanted_sets);
  auto finding = [&out](Finding::Kind k, Table t, const std::string& c, std::string s = {}) {
    out.report.findings.push_back(Finding{k, t, c, std::move(s)});
  };
  auto in_scope_chain = [&scope](const std::string& chain) {
    if (!scope.tenant) {
      return chain.starts_with("LOB-");
    }
    return chain.starts_with(fmt::format("LOB-{}-", scope.tenant->tap_id));
  };

  for (Table table : {Table::kFilter, Table::kNat}) {
    const TableState& ts = state.table(table);
    TableOps ops;

    // Tenant chains: exact contents in order.
    for (const auto& [chain, want] : wanted.owned[table]) {
      if (!ts.has_chain(chain)) {
        finding(Finding::Kind::kMissingChain, table, chain);
        ops.create.push_back("-N " + chain);
      } else if (ts.rules_of(chain) == want) {
        continue;
      } else {
        ops.fill.push_back("-F " + chain);
        auto have = counts(ts.rules_of(chain));
        auto need = counts(want);
        if (have == need) {
          finding(Finding::Kind::kMisordered, table, chain);
        }
        for (const auto& [spec, n] : have) {
          int w = need.contains(spec) ? need[spec] : 0;
          if (n > w) {
            finding(w > 0 ? Finding::Kind::kDuplicateRule : Finding::Kind::kForeignRule, table,
                    chain, spec);
          }
        }
        for (const auto& [spec, n] : need) {
          if (!have.contains(spec) || have[spec] < n) {
            finding(Finding::Kind::kMissingRule, table, chain, spec);
          }
        }
      }
      for (const auto& spec : want) {
        if (!ts.has_chain(chain)) {
          finding(Finding::Kind::kMissingRule, table, chain, spec);
        }
        ops.fill.push_back(fmt::format("-A {} {}", chain, spec));
      }
    }

    // Shared chains: the wanted dispatch rules, each once.
    for (const auto& [chain, want] : wanted.shared[table]) {
      if (!ts.has_chain(chain)) {
        finding(Finding::Kind::kMissingChain, table, chain);
        ops.create.push_back("-N " + chain);
      }
      auto need = counts(want);
      std::map<std::string, int> have;
      for (const auto& spec : ts.rules_of(chain)) {
        if (!scope.tenant || belongs_to(spec, *scope.tenant) || need.contains(spec)) {
          ++have[spec];
        }
      }
      for (const auto& [spec, n] : have) {
        int w = need.contains(spec) ? need[spec] : 0;
        for (int i = w; i < n; ++i) {
          finding(w > 0 ? Finding::Kind::kDuplicateRule : Finding::Kind::kForeignRule, table, chain,
                  spec);
          ops.remove.push_back(fmt::format("-D {} {}", chain, spec));
        }
      }
      for (const auto& [spec, n] : need) {
        int h = have.contains(spec) ? have[spec] : 0;
        for (int i = h; i < n; ++i) {
          finding(Finding::Kind::kMissingRule, table, chain, spec);
          ops.append.push_back(fmt::format("-A {} {}", chain, spec));
        }
      }
    }

    // Builtin jumps: exactly one, at position 1.
    for (const auto& b : base_chains()) {
      if (b.table != table) {
        continue;
      }
      const std::string jump = fmt::format("-j {}", b.chain);
      const std::string builtin(b.builtin);
      const auto& rules = ts.rules_of(builtin);
      auto n = std::count(rules.begin(), rules.end(), jump);
      if (n == 1 && rules.front() == jump) {
        continue;
      }
      if (n == 0) {
        finding(Finding::Kind::kMissingRule, table, builtin, jump);
      } else if (rules.front() != jump) {
        finding(Finding::Kind::kJumpNotFirst, table, builtin, jump);
      } else {
        finding(Finding::Kind::kDuplicateRule, table, builtin, jump);
      }
      for (decltype(n) i = 0; i < n; ++i) {
        ops.jumps.push_back(fmt::format("-D {} {}", builtin, jump));
      }
      ops.jumps.push_back(fmt::format("-I {} 1 {}", builtin, jump));
    }

    // Tenant chains nobody wants: flush all first, then delete (they may reference each other).
    for (const auto& chain : ts.chains) {
      if (is_base_chain(chain) || wanted.owned[table].contains(chain) || !in_scope_chain(chain)) {
        continue;
      }
      finding(Finding::Kind::kStaleChain, table, chain);
      ops.flush_stale.push_back("-F " + chain);
      ops.delete_stale.push_back("-X " + chain);
    }

    if (ops.empty()) {
      continue;
    }
    out.batch += fmt::format("*{}\n", table_name(table));
    // Order matters: chains exist before rules jump to them; stale references go before the
    // chains they point to are deleted.
    for (const auto* part : {&ops.create, &ops.fill, &ops.remove, &ops.append, &ops.jumps,
                             &ops.flush_stale, &ops.delete_stale}) {
      for (const auto& line : *part) {
        out.batch += line;
        out.batch += '\n';
      }
    }
    out.batch += "COMMIT\n";
  }
  return out;
}

}  // namespace lobster::firewall
