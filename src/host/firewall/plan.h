// Comparing wanted rules with the kernel's (a SaveState) and planning the one
// `iptables-restore --noflush` batch that makes them equal. Pure functions: the verifier and
// the planner are unit-tested on synthetic iptables-save text.
//
// Semantics: tenant chains (LOB-<id>-*) must hold exactly their rules in order; the shared
// LOBSTER-* chains must hold exactly the wanted dispatch rules (order irrelevant, no
// duplicates, nothing foreign); each builtin chain must jump to its LOBSTER-* chain once, as its
// first rule.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "host/firewall/rules.h"
#include "host/firewall/save_state.h"

namespace lobster::firewall {

struct Finding {
  enum class Kind {
    kMissingRule,    // a wanted rule is absent
    kDuplicateRule,  // a wanted rule appears more than once
    kForeignRule,    // a rule in one of our chains that nobody wants
    kMisordered,     // a tenant chain has the right rules in the wrong order
    kMissingChain,   // one of our chains does not exist
    kStaleChain,     // a tenant chain of a tenant that is not wanted
    kJumpNotFirst,   // a builtin chain's first rule is not the jump to our chain
  };
  Kind kind;
  Table table;
  std::string chain;
  std::string spec;  // the rule, if the finding is about one
  std::string to_string() const;
  bool operator==(const Finding&) const = default;
};
std::string_view finding_kind_name(Finding::Kind kind);

struct Report {
  std::vector<Finding> findings;
  bool clean() const { return findings.empty(); }
  std::string summary() const;  // one finding per line
};

// What a plan may touch.
struct Scope {
  // nullopt: everything in our chains (reconcile, verify); else only rules and chains that
  // belong to this tenant (the rest of the shared chains is left alone).
  std::optional<TenantNet> tenant;
};

struct Plan {
  Report report;      // what differs
  std::string batch;  // iptables-restore input; empty when nothing differs
};

// `wanted`: the rule sets of every tenant that should exist (within `scope`). Base chains and
// builtin jumps are always part of the wanted state.
Plan plan(const SaveState& state, const std::vector<RuleSet>& wanted, const Scope& scope);

// True if `spec` in a shared chain belongs to `tenant` (its TAP, chains or guest address).
bool belongs_to(std::string_view spec, const TenantNet& tenant);

}  // namespace lobster::firewall
