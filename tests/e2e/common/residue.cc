#include "e2e/common/residue.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "e2e/common/harness.h"
#include "host/cgroup/cgroups.h"

namespace lobster::e2e {
namespace {

// What the tenants to keep own, looked up in the database.
struct Kept {
  std::set<std::string> names;
  std::set<int64_t> ids;  // TAP ids: lt<id>, LOB-<id>-*, vm<id>, run/vm/<id>
  bool has_id(int64_t id) const { return ids.contains(id); }
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); });
}

// Every number N appearing as `<prefix>N<terminator>` in `text` (for "LOB-3-IN": prefix
// "LOB-", terminator "-"); an empty terminator set means "end of the digits".
std::vector<int64_t> numbered(std::string_view text, std::string_view prefix, bool need_dash,
                              bool word_start) {
  std::vector<int64_t> out;
  for (size_t at = text.find(prefix); at != std::string_view::npos;
       at = text.find(prefix, at + 1)) {
    if (word_start && at > 0 && (std::isalnum(text[at - 1]) || text[at - 1] == '-'))
      continue;
    size_t end = at + prefix.size();
    while (end < text.size() && std::isdigit(text[end])) ++end;
    std::string_view digits = text.substr(at + prefix.size(), end - at - prefix.size());
    if (!all_digits(digits))
      continue;
    if (need_dash && (end >= text.size() || text[end] != '-'))
      continue;
    if (!need_dash && end < text.size() && std::isalnum(text[end]))
      continue;
    out.push_back(std::stoll(std::string(digits)));
  }
  return out;
}

class Scan {
 public:
  Scan(const std::string& root, const std::vector<std::string>& keep) : root_(root) {
    kept_.names.insert(keep.begin(), keep.end());
  }

  std::vector<std::string> run() {
    database();
    processes();
    taps();
    iptables();
    routes();
    cgroups();
    files();
    sockets();
    return std::move(findings_);
  }

 private:
  void add(std::string finding) { findings_.push_back(std::move(finding)); }

  CmdResult sql(const std::string& query) {
    return sh({"sqlite3", "-readonly", "-separator", "|", root_ + "/lib/state.db", query});
  }

  void database() {
    if (!fs::exists(root_ + "/lib/state.db"))
      return;  // uninit removed it, or the daemon never started
    CmdResult rows =
        sql("SELECT t.name, t.status, IFNULL(a.tap_id, 0) FROM tenants t "
            "LEFT JOIN allocations a ON a.tenant_id = t.id ORDER BY t.id");
    if (rows.exit != 0) {
      add("database: cannot read tenants: " + rows.err);
      return;
    }
    for (const auto& line : split(rows.out, '\n')) {
      auto cols = split(line, '|');
      if (cols.size() != 3)
        continue;
      if (kept_.names.contains(cols[0])) {
        kept_.ids.insert(std::stoll(cols[2]));
      } else {
        add("database row: tenant " + cols[0] + " (status " + cols[1] + ", TAP id " + cols[2] +
            ")");
      }
    }
    CmdResult orphans =
        sql("SELECT tenant_id, tap_id FROM allocations "
            "WHERE tenant_id NOT IN (SELECT id FROM tenants)");
    for (const auto& line : split(orphans.out, '\n')) {
      if (!line.empty())
        add("database row: allocation without tenant (tenant_id|tap_id " + line + ")");
    }
    CmdResult holds =
        sql("SELECT IFNULL(t.name, '?'), h.hold_id FROM holds h "
            "LEFT JOIN tenants t ON t.id = h.tenant_id");
    for (const auto& line : split(holds.out, '\n')) {
      auto cols = split(line, '|');
      if (cols.size() == 2 && !kept_.names.contains(cols[0]))
        add("database row: hold " + cols[1] + " of tenant " + cols[0]);
    }
  }

  bool mentions_root(const std::string& text) const {
    for (size_t at = text.find(root_); at != std::string::npos; at = text.find(root_, at + 1)) {
      size_t end = at + root_.size();
      if (end == text.size() || text[end] == '/' || text[end] == ' ' || text[end] == ',')
        return true;
    }
    return false;
  }

  void processes() {
    const pid_t self = ::getpid();
    const pid_t daemon = read_pid_file(root_ + "/run/lobsterd.pid");
    const pid_t caddy = read_pid_file(root_ + "/run/caddy.pid");
    const pid_t ingress = read_pid_file(root_ + "/run/ingress.pid");
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      std::string pid_text = entry.path().filename().string();
      if (!all_digits(pid_text))
        continue;
      auto pid = static_cast<pid_t>(std::stol(pid_text));
      if (pid == self || pid == daemon || pid == caddy || pid == ingress)
        continue;
      auto raw = fs::read_file(entry.path().string() + "/cmdline");
      if (!raw || raw->empty())
        continue;  // kernel thread, zombie, or gone
      std::string cmd = *raw;
      std::replace(cmd.begin(), cmd.end(), '\0', ' ');
      if (!mentions_root(cmd))
        continue;
      if (cmd.find("qemu-system") != std::string::npos) {
        auto ids = numbered(cmd, "-name lobster-vm", false, false);
        if (ids.size() == 1 && kept_.has_id(ids[0]))
          continue;
      }
      add("process " + pid_text + ": " + cmd.substr(0, 240));
    }
  }

  void taps() {
    CmdResult links = sh({"ip", "-o", "link", "show"});
    for (const auto& line : split(links.out, '\n')) {
      // "7: lt3: <BROADCAST,...> ..." (or "lt3@if2:")
      size_t colon = line.find(": ");
      if (colon == std::string::npos)
        continue;
      std::string name = line.substr(colon + 2);
      name = name.substr(0, name.find_first_of(":@"));
      if (name.size() > 2 && name.starts_with("lt") && all_digits(name.substr(2)) &&
          !kept_.has_id(std::stoll(name.substr(2)))) {
        add("TAP " + name);
      }
    }
  }

  void iptables() {
    for (const char* tool : {"iptables-save", "iptables-legacy-save"}) {
      if (!process::find_executable(tool))
        continue;
      CmdResult save = sh({tool});
      for (const auto& line : split(save.out, '\n')) {
        auto ids = numbered(line, "LOB-", true, false);
        auto taps = numbered(line, "lt", false, true);
        ids.insert(ids.end(), taps.begin(), taps.end());
        if (std::any_of(ids.begin(), ids.end(), [this](int64_t id) { return !kept_.has_id(id); }))
          add(std::string(tool) + ": " + line);
      }
    }
  }

  // The front door: Caddy's config is static, so any mention of a tenant in it is a leak;
  // the ingress may keep counters only for kept tenants; its sockets need its process.
  void routes() {
    if (auto file = fs::read_file(root_ + "/lib/caddy/caddy.json")) {
      if (file->find("lobster-") != std::string::npos || file->find("10.0.") != std::string::npos)
        add("Caddy config names a tenant route: lib/caddy/caddy.json");
    }
    const pid_t ingress = read_pid_file(root_ + "/run/ingress.pid");
    bool alive = false;
    if (ingress > 0) {
      auto cmd = fs::read_file("/proc/" + std::to_string(ingress) + "/cmdline");
      alive = cmd && cmd->find(std::string("ingress") + '\0') != std::string::npos;
      if (!alive && cmd)
        add("run/ingress.pid names pid " + std::to_string(ingress) + " that is not the ingress");
    }
    if (!alive) {
      for (const char* sock : {"run/ingress.sock", "run/ingress-ctl.sock"}) {
        if (fs::exists(root_ + "/" + sock))
          add(std::string("socket ") + sock + " without an ingress process");
      }
      return;
    }
    CmdResult live = sh({"curl", "-sS", "--max-time", "5", "--unix-socket",
                         root_ + "/run/ingress-ctl.sock", "http://ingress/v1/activity"});
    auto j = nlohmann::json::parse(live.out, nullptr, false);
    if (live.exit != 0 || j.is_discarded() || !j.contains("tenants")) {
      add("ingress control socket unreadable: " + live.out + live.err);
      return;
    }
    for (const auto& [name, counters] : j["tenants"].items()) {
      if (!kept_.names.contains(name))
        add("ingress counters of tenant " + name);
    }
  }

  void cgroups() {
    std::set<std::string> seen;
    const std::string parent = cgroup::parent_name_for(root_);
    for (const char* ctl : {"", "memory", "cpu", "cpu,cpuacct", "pids"}) {
      std::string dir = std::string("/sys/fs/cgroup/") + ctl + (*ctl != '\0' ? "/" : "") + parent;
      std::error_code ec;
      std::string canonical = std::filesystem::canonical(dir, ec).string();
      if (ec || !seen.insert(canonical).second)
        continue;
      for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
        if (!child.is_directory())
          continue;
        std::string name = child.path().filename().string();
        if (name.starts_with("vm") && all_digits(name.substr(2)) &&
            kept_.has_id(std::stoll(name.substr(2))))
          continue;
        add("cgroup " + child.path().string());
      }
    }
  }

  void files() {
    // Entries named after the tenant (overlays: <name>.ext4 / <name>.cfg).
    for (const char* rel :
         {"lib/overlays", "lib/ssh", "lib/snapshots", "lib/jail", "log/t", "run/t"}) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(root_ + "/" + rel, ec)) {
        std::string name = e.path().filename().string();
        std::string tenant = std::string(rel) == "lib/overlays" ? e.path().stem().string() : name;
        if (!kept_.names.contains(tenant))
          add("file " + std::string(rel) + "/" + name);
      }
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/run/vm", ec)) {
      std::string name = e.path().filename().string();
      if (!(all_digits(name) && kept_.has_id(std::stoll(name))))
        add("file run/vm/" + name);
    }
  }

  void sockets() {
    auto table = fs::read_file("/proc/net/unix");
    if (!table)
      return;
    for (const auto& line : split(*table, '\n')) {
      size_t slash = line.find(root_ + "/run/");
      if (slash == std::string::npos)
        continue;
      std::string path = line.substr(slash);
      std::string rest = path.substr(root_.size() + 5);  // after "<root>/run/"
      if (rest.starts_with("vm/")) {
        std::string id = rest.substr(3, rest.find('/', 3) - 3);
        if (all_digits(id) && kept_.has_id(std::stoll(id)))
          continue;
      } else if (rest.starts_with("t/")) {
        if (kept_.names.contains(rest.substr(2, rest.find('/', 2) - 2)))
          continue;
      } else {
        continue;  // api.sock, caddy-admin.sock, ingress*.sock: the root's (checked in routes())
      }
      add("socket " + path);
    }
  }

  std::string root_;
  Kept kept_;
  std::vector<std::string> findings_;
};

}  // namespace

std::vector<std::string> ResidueScanner::scan(const std::vector<std::string>& keep) const {
  return Scan(root_, keep).run();
}

std::string ResidueScanner::describe(const std::vector<std::string>& findings) {
  std::string out = std::to_string(findings.size()) + " leftover(s):";
  for (const auto& f : findings) out += "\n  " + f;
  return out;
}

}  // namespace lobster::e2e
