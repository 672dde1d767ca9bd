#include "host/cgroup/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/fs.h"
#include "core/unique_fd.h"

namespace lobster::cgroup {
namespace {

constexpr long kCgroupSuperMagic = 0x27e0eb;
constexpr long kCgroup2SuperMagic = 0x63677270;

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..")
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

Status write_value(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd)
    return errno_error(ErrorCode::kCgroupFailed, "open " + path);
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0 || static_cast<size_t>(n) != value.size()) {
    return errno_error(ErrorCode::kCgroupFailed, "write '" + value + "' to " + path);
  }
  return ok();
}

Result<std::string> read_value(const std::string& path) {
  auto r = fs::read_file(path);
  if (!r) {
    Error e = r.error();
    e.code = ErrorCode::kCgroupFailed;
    return std::unexpected(e);
  }
  std::string s = *r;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<int64_t> parse_limit(const std::string& text, const std::string& what) {
  if (text == "max" || text == "-1")
    return int64_t{0};
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return make_error(ErrorCode::kCgroupFailed, "unexpected value '{}' in {}", text, what);
  }
  return v;
}

std::string limit_text(int64_t v) { return v <= 0 ? "max" : std::to_string(v); }

bool is_cgroupfs(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0)
    return false;
  auto magic = static_cast<long>(st.f_type);
  return magic == kCgroupSuperMagic || magic == kCgroup2SuperMagic;
}

Result<std::vector<pid_t>> read_procs(const std::string& dir) {
  std::vector<pid_t> out;
  auto text = fs::read_file(dir + "/cgroup.procs");
  if (!text) {
    if (text.error().sys_errno == ENOENT)
      return out;
    Error e = text.error();
    e.code = ErrorCode::kCgroupFailed;
    return std::unexpected(e);
  }
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos)
      end = text->size();
    pid_t pid = 0;
    auto [p, ec] = std::from_chars(text->data() + pos, text->data() + end, pid);
    if (ec == std::errc() && pid > 0)
      out.push_back(pid);
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string parent_name_for(const std::string& state_root) {
  if (state_root.empty())
    return "lobsterd";  // the system layout (/etc, /var/lib, /run lobsterd)
  // FNV-1a: stable across builds and runs, unlike std::hash.
  uint32_t h = 2166136261U;
  for (char c : state_root) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619U;
  }
  return fmt::format("lobsterd-{:08x}", h);
}

Result<std::unique_ptr<FsCgroups>> FsCgroups::create(std::string root, std::string parent) {
  if (!valid_name(parent)) {
    return make_error(ErrorCode::kValidationFailed, "invalid cgroup parent name '{}'", parent);
  }
  Layout layout;
  if (fs::exists(root + "/cgroup.controllers")) {
    layout = Layout::kV2;
  } else if (fs::exists(root + "/memory") && fs::exists(root + "/cpu") &&
             fs::exists(root + "/pids")) {
    layout = Layout::kV1;
  } else {
    return with_hint(Error{ErrorCode::kPreflightFailed, "no usable cgroup hierarchy under " + root},
                     "mount cgroup2 there, or the v1 memory, cpu and pids controllers");
  }
  return std::unique_ptr<FsCgroups>(new FsCgroups(std::move(root), std::move(parent), layout));
}

std::string FsCgroups::dir_for(const std::string& controller, const std::string& name) const {
  if (layout_ == Layout::kV2)
    return root_ + "/" + parent_ + "/" + name;
  return root_ + "/" + controller + "/" + parent_ + "/" + name;
}

std::vector<std::string> FsCgroups::dirs(const std::string& name) const {
  if (layout_ == Layout::kV2)
    return {dir_for("", name)};
  return {dir_for("memory", name), dir_for("cpu", name), dir_for("pids", name)};
}

Status FsCgroups::remove_parent() {
  std::vector<std::string> parents;
  if (layout_ == Layout::kV2) {
    parents.push_back(root_ + "/" + parent_);
  } else {
    for (const char* c : {"memory", "cpu", "pids"})
      parents.push_back(root_ + "/" + c + "/" + parent_);
  }
  for (const auto& dir : parents) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      return with_hint(Error{ErrorCode::kCgroupFailed,
                             fmt::format("cannot remove {}: {}", dir, std::strerror(errno))},
                       "a tenant's cgroup is still below it: evict every tenant first");
    }
  }
  return ok();
}

Status FsCgroups::ensure_v2_parent() {
  // Controllers must be enabled in every ancestor's subtree_control for the leaf to get
  // memory.max, cpu.max and pids.max.
  std::string parent_dir = root_ + "/" + parent_;
  LOB_TRY(fs::ensure_dir(parent_dir, 0755));
  for (const std::string& dir : {root_, parent_dir}) {
    auto current = read_value(dir + "/cgroup.subtree_control");
    std::string have = current ? *current : "";
    std::string want;
    for (const char* c : {"memory", "cpu", "pids"}) {
      if (have.find(c) == std::string::npos)
        want += std::string(want.empty() ? "+" : " +") + c;
    }
    if (!want.empty())
      LOB_TRY(write_value(dir + "/cgroup.subtree_control", want));
  }
  return ok();
}

Status FsCgroups::ensure(const std::string& name, const Limits& limits) {
  if (!valid_name(name)) {
    return make_error(ErrorCode::kValidationFailed, "invalid cgroup name '{}'", name);
  }
  if (layout_ == Layout::kV2) {
    LOB_TRY(ensure_v2_parent());
    std::string dir = dir_for("", name);
    LOB_TRY(fs::ensure_dir(dir, 0755));
    LOB_TRY(write_value(dir + "/memory.max", limit_text(limits.memory_bytes)));
    LOB_TRY(write_value(dir + "/cpu.max", limit_text(limits.cpu_quota_us) + " " +
                                              std::to_string(limits.cpu_period_us)));
    LOB_TRY(write_value(dir + "/pids.max", limit_text(limits.pids_max)));
    return ok();
  }
  std::string mem = dir_for("memory", name);
  std::string cpu = dir_for("cpu", name);
  std::string pids_dir = dir_for("pids", name);
  for (const auto& d : {mem, cpu, pids_dir}) LOB_TRY(fs::ensure_dir(d, 0755));
  LOB_TRY(write_value(mem + "/memory.limit_in_bytes",
                      limits.memory_bytes <= 0 ? "-1" : std::to_string(limits.memory_bytes)));
  // The period first: a quota is validated against the current period.
  LOB_TRY(write_value(cpu + "/cpu.cfs_period_us", std::to_string(limits.cpu_period_us)));
  LOB_TRY(write_value(cpu + "/cpu.cfs_quota_us",
                      limits.cpu_quota_us <= 0 ? "-1" : std::to_string(limits.cpu_quota_us)));
  LOB_TRY(write_value(pids_dir + "/pids.max", limit_text(limits.pids_max)));
  return ok();
}

Status FsCgroups::add_process(const std::string& name, pid_t pid) {
  for (const auto& dir : dirs(name)) {
    LOB_TRY(write_value(dir + "/cgroup.procs", std::to_string(pid)));
  }
  return ok();
}

Result<std::vector<pid_t>> FsCgroups::pids(const std::string& name) {
  std::vector<pid_t> all;
  for (const auto& dir : dirs(name)) {
    auto p = LOB_TRY(read_procs(dir));
    all.insert(all.end(), p.begin(), p.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

Result<Limits> FsCgroups::read_limits(const std::string& name) {
  Limits l;
  if (layout_ == Layout::kV2) {
    std::string dir = dir_for("", name);
    l.memory_bytes = LOB_TRY(parse_limit(LOB_TRY(read_value(dir + "/memory.max")), "memory.max"));
    std::string cpu = LOB_TRY(read_value(dir + "/cpu.max"));
    auto space = cpu.find(' ');
    if (space == std::string::npos) {
      return make_error(ErrorCode::kCgroupFailed, "unexpected cpu.max '{}'", cpu);
    }
    l.cpu_quota_us = LOB_TRY(parse_limit(cpu.substr(0, space), "cpu.max"));
    l.cpu_period_us = LOB_TRY(parse_limit(cpu.substr(space + 1), "cpu.max"));
    l.pids_max = LOB_TRY(parse_limit(LOB_TRY(read_value(dir + "/pids.max")), "pids.max"));
    return l;
  }
  std::string mem = LOB_TRY(read_value(dir_for("memory", name) + "/memory.limit_in_bytes"));
  l.memory_bytes = LOB_TRY(parse_limit(mem, "memory.limit_in_bytes"));
  // v1 reports "unlimited" as a huge page-aligned number.
  if (l.memory_bytes >= (int64_t{1} << 62))
    l.memory_bytes = 0;
  std::string cpu = dir_for("cpu", name);
  l.cpu_quota_us =
      LOB_TRY(parse_limit(LOB_TRY(read_value(cpu + "/cpu.cfs_quota_us")), "cpu.cfs_quota_us"));
  l.cpu_period_us =
      LOB_TRY(parse_limit(LOB_TRY(read_value(cpu + "/cpu.cfs_period_us")), "cpu.cfs_period_us"));
  l.pids_max =
      LOB_TRY(parse_limit(LOB_TRY(read_value(dir_for("pids", name) + "/pids.max")), "pids.max"));
  return l;
}

Status FsCgroups::remove(const std::string& name, int64_t timeout_ms) {
  if (!valid_name(name)) {
    return make_error(ErrorCode::kValidationFailed, "invalid cgroup name '{}'", name);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (const auto& dir : dirs(name)) {
    if (!fs::exists(dir))
      continue;
    // Only processes listed IN this cgroup are killed; nothing is looked up by name.
    for (;;) {
      auto left = LOB_TRY(read_procs(dir));
      if (left.empty())
        break;
      for (pid_t pid : left) ::kill(pid, SIGKILL);
      if (std::chrono::steady_clock::now() >= deadline) {
        return make_error(ErrorCode::kExecTimeout, "cgroup {} still has {} processes", dir,
                          left.size());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (::rmdir(dir.c_str()) == 0)
      continue;
    int err = errno;
    if ((err == ENOTEMPTY || err == EEXIST) && !is_cgroupfs(dir)) {
      // A plain directory standing in for cgroupfs (tests): its control files are real files.
      LOB_TRY(fs::remove_tree(dir));
      continue;
    }
    // A cgroup whose last task just exited can report EBUSY for a moment.
    while (err == EBUSY && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      err = ::rmdir(dir.c_str()) == 0 ? 0 : errno;
    }
    if (err != 0 && err != ENOENT)
      return make_sys_error(ErrorCode::kCgroupFailed, err, "rmdir " + dir);
  }
  return ok();
}

int64_t parse_oom_kill(std::string_view events) {
  size_t pos = 0;
  while (pos < events.size()) {
    size_t end = events.find('\n', pos);
    std::string_view line = events.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? events.size() : end + 1;
    constexpr std::string_view kKey = "oom_kill ";
    if (!line.starts_with(kKey))
      continue;
    int64_t n = 0;
    for (char c : line.substr(kKey.size())) {
      if (c < '0' || c > '9')
        return 0;
      if (n > (INT64_MAX - 9) / 10)
        return n;  // absurd, but still "at least one"
      n = n * 10 + (c - '0');
    }
    return n;
  }
  return 0;
}

int64_t oom_kill_count(const Cgroups& cgroups, const std::string& name) {
  int64_t total = 0;
  for (const auto& dir : cgroups.dirs(name)) {
    for (const char* file : {"/memory.events", "/memory.oom_control"}) {
      if (auto text = fs::read_file(dir + file); text) {
        total += parse_oom_kill(*text);
        break;
      }
    }
  }
  return total;
}

}  // namespace lobster::cgroup
