#include "e2e/common/harness.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/fs.h"

extern char** environ;

namespace lobster::e2e {
namespace {

std::map<std::string, std::string> environment_with(
    const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

}  // namespace

bool in_ci() {
  const char* ci = std::getenv("CI");  // NOLINT(concurrency-mt-unsafe)
  return ci != nullptr && std::string(ci) == "true";
}

std::string lobsterd_binary() {
  const char* dir = std::getenv("LOBSTER_BINARY_DIR");  // NOLINT(concurrency-mt-unsafe)
  return std::string(dir != nullptr ? dir : ".") + "/src/daemon/lobsterd";
}

process::ProcessRunner& runner() {
  static process::PosixProcessRunner r;
  return r;
}

CmdResult sh(const std::vector<std::string>& argv, int64_t timeout_ms,
             const std::map<std::string, std::string>& env) {
  process::RunOptions options{.timeout_ms = timeout_ms};
  if (!env.empty())
    options.env = environment_with(env);
  auto r = runner().run(argv, options);
  if (!r)
    return {-1, "", r.error().to_string()};
  return {r->timed_out ? -1 : r->exit_code, r->out, r->err};
}

bool eventually(const std::function<bool()>& pred, int max_ms, int step_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
  }
}

Status enter_private_netns() {
  if (::unshare(CLONE_NEWNET) != 0)
    return errno_error(ErrorCode::kPermissionDenied, "unshare(CLONE_NEWNET)");
  CmdResult lo = sh({"ip", "link", "set", "lo", "up"});
  if (lo.exit != 0)
    return make_error(ErrorCode::kNetworkFailed, "ip link set lo up: {}", lo.err);
  return ok();
}

nlohmann::json minimal_config() {
  return {
      {"firecracker", {{"defaultVcpuCount", 1}, {"defaultMemSizeMb", 256}}},
      {"overlay", {{"defaultSizeMb", 512}}},
      {"image", {{"defaultProfile", "minimal"}}},
      {"vmm", {{"driver", "qemu"}}},
  };
}

pid_t read_pid_file(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text)
    return 0;
  return static_cast<pid_t>(std::atoi(text->c_str()));
}

Status start_minimal_suite(const StateRoot& root, const nlohmann::json& overrides) {
  LOB_TRY(enter_private_netns());
  nlohmann::json config = minimal_config();
  config.merge_patch(overrides);
  LOB_TRY(root.create(config));
  CmdResult build = root.cli({"image", "build", "--profile", "minimal"}, 900'000);
  if (build.exit != 0)
    return make_error(ErrorCode::kInternal, "image build exited {}: {}", build.exit, build.err);
  CmdResult init = root.cli({"init", "-y"}, 120'000);
  if (init.exit != 0) {
    return make_error(ErrorCode::kInternal, "init exited {}: {}{}", init.exit, init.out, init.err);
  }
  return ok();
}

Status StateRoot::create(const nlohmann::json& config) const {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
  std::filesystem::create_directories(root_ + "/etc", ec);
  if (ec)
    return make_error(ErrorCode::kInternal, "create {}: {}", root_, ec.message());
  return fs::write_file_atomic(root_ + "/etc/config.json", config.dump(2), 0600);
}

CmdResult StateRoot::cli(const std::vector<std::string>& args, int64_t timeout_ms,
                         const std::map<std::string, std::string>& env) const {
  std::vector<std::string> argv = {lobsterd_binary(), "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return sh(argv, timeout_ms, env);
}

pid_t StateRoot::start_daemon(const std::map<std::string, std::string>& env,
                              std::string* why) const {
  CmdResult r = cli({"daemon"}, 120'000, env);
  pid_t pid = daemon_pid();
  if (r.exit != 0 || pid <= 0) {
    if (why != nullptr)
      *why = "lobsterd daemon: exit " + std::to_string(r.exit) + ": " + r.out + r.err;
    return 0;
  }
  return pid;
}

pid_t StateRoot::daemon_pid() const { return read_pid_file(root_ + "/run/lobsterd.pid"); }
pid_t StateRoot::caddy_pid() const { return read_pid_file(root_ + "/run/caddy.pid"); }
pid_t StateRoot::ingress_pid() const { return read_pid_file(root_ + "/run/ingress.pid"); }

std::string StateRoot::ca_file() const {
  return root_ + "/lib/caddy/data/pki/authorities/local/root.crt";
}

std::string StateRoot::curl(const std::string& tenant, const std::string& path,
                            const std::vector<std::string>& extra) const {
  std::string host = tenant + ".lobster.localhost";
  std::vector<std::string> argv = {
      "curl",     "-sS",    "-i", "--max-time", "5", "--resolve", host + ":443:127.0.0.1",
      "--cacert", ca_file()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://" + host + path);
  return sh(argv, 15'000).out;
}

std::string StateRoot::ws_upgrade(const std::string& tenant, const std::string& query) const {
  return curl(tenant, "/ws" + query,
              {"--http1.1", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
               "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
}

bool StateRoot::healthy(const std::string& tenant) const {
  return curl(tenant, "/health").find("{\"ok\":true}") != std::string::npos;
}

std::string StateRoot::token_of(const std::string& tenant) const {
  CmdResult r = cli({"token", tenant});
  if (r.exit != 0)
    return "";
  std::string t = r.out;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

std::optional<std::vector<std::string>> StateRoot::tenant_names() const {
  CmdResult r = cli({"--json", "tank"}, 120'000);
  auto list = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit != 0 || !list.is_array())
    return std::nullopt;
  std::vector<std::string> names;
  for (const auto& t : list) names.push_back(t.value("name", ""));
  return names;
}

std::string StateRoot::diagnostics(const std::string& tenant) const {
  std::string out;
  std::vector<std::string> logs = {root_ + "/log/daemon.log"};
  if (!tenant.empty())
    logs.push_back(root_ + "/log/t/" + tenant + "/console.log");
  for (const auto& path : logs) {
    auto tail = fs::read_tail(path, 60);
    out +=
        "--- " + path + (tail ? " (last lines) ---\n" + *tail : ": " + tail.error().message) + "\n";
  }
  return out;
}

void StateRoot::destroy() const {
  if (root_.empty() || !fs::exists(root_))
    return;
  if (daemon_pid() > 0) {
    if (auto names = tenant_names()) {
      for (const auto& n : *names) cli({"evict", "-y", n}, 300'000);
    }
  }
  pid_t caddy = caddy_pid();
  pid_t ingress = ingress_pid();
  pid_t daemon = daemon_pid();
  cli({"uninit", "-y"}, 60'000);
  // Only the processes this root's pid files name: the daemon (if uninit could not stop it)
  // and the Caddy it left running.
  for (pid_t pid : {daemon, caddy, ingress}) {
    if (pid <= 0 || process::process_exited(pid))
      continue;
    ::kill(pid, SIGTERM);
    if (!eventually([pid] { return process::process_exited(pid); }, 5'000, 50))
      ::kill(pid, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

}  // namespace lobster::e2e
