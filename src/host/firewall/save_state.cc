#include "host/firewall/save_state.h"

#include <optional>

namespace lobster::firewall {

bool TableState::has_chain(std::string_view chain) const {
  for (const auto& c : chains) {
    if (c == chain) {
      return true;
    }
  }
  return false;
}

const std::vector<std::string>& TableState::rules_of(std::string_view chain) const {
  static const std::vector<std::string> kEmpty;
  auto it = rules.find(std::string(chain));
  return it == rules.end() ? kEmpty : it->second;
}

const TableState& SaveState::table(Table t) const {
  static const TableState kEmpty;
  auto it = tables.find(t);
  return it == tables.end() ? kEmpty : it->second;
}

namespace {
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    out.push_back(line);
    if (nl == std::string_view::npos) {
      break;
    }
    text.remove_prefix(nl + 1);
  }
  return out;
}
}  // namespace

Result<SaveState> parse_save(std::string_view text) {
  SaveState state;
  TableState* current = nullptr;
  bool in_table = false;
  int lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.front() == '*') {
      std::string_view name = line.substr(1);
      in_table = true;
      if (name == "filter") {
        current = &state.tables[Table::kFilter];
      } else if (name == "nat") {
        current = &state.tables[Table::kNat];
      } else {
        current = nullptr;  // mangle, raw, security: not ours
      }
      continue;
    }
    if (!in_table) {
      return make_error(ErrorCode::kFirewallFailed, "iptables-save line {}: '{}' outside a table",
                        lineno, line);
    }
    if (line == "COMMIT") {
      in_table = false;
      current = nullptr;
      continue;
    }
    if (line.front() == ':') {
      size_t sp = line.find(' ');
      std::string chain(line.substr(1, sp == std::string_view::npos ? line.size() - 1 : sp - 1));
      if (current != nullptr && !current->has_chain(chain)) {
        current->chains.push_back(chain);
        current->rules[chain];
      }
      continue;
    }
    if (line.starts_with("-A ")) {
      std::string_view rest = line.substr(3);
      size_t sp = rest.find(' ');
      if (sp == std::string_view::npos) {
        return make_error(ErrorCode::kFirewallFailed, "iptables-save line {}: empty rule '{}'",
                          lineno, line);
      }
      if (current != nullptr) {
        current->rules[std::string(rest.substr(0, sp))].emplace_back(rest.substr(sp + 1));
      }
      continue;
    }
    return make_error(ErrorCode::kFirewallFailed, "iptables-save line {}: unexpected '{}'", lineno,
                      line);
  }
  return state;
}

std::string normalize_save(std::string_view text) {
  std::string out;
  for (std::string_view line : split_lines(text)) {
    if (line.empty() || line.front() == '#') {
      continue;
    }
    std::string l(line);
    if (l.front() == ':') {
      size_t open = l.rfind('[');
      if (open != std::string::npos && l.back() == ']') {
        l = l.substr(0, open) + "[0:0]";
      }
    } else if (l.front() == '[') {  // per-rule counters from iptables-save -c
      size_t close = l.find("] ");
      if (close != std::string::npos) {
        l = l.substr(close + 2);
      }
    }
    out += l;
    out += '\n';
  }
  return out;
}

}  // namespace lobster::firewall
