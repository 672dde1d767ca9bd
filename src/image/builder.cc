#include "image/builder.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "core/fs.h"
#include "guest/openclaw_versions.h"
#include "image/initramfs.h"
#include "image/kernel.h"
#include "image/openclaw_patches.h"

namespace lobster::image {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string exe_dir() {
  std::string buf(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0)
    return "";
  buf.resize(static_cast<size_t>(n));
  return buf.substr(0, buf.rfind('/'));
}

Result<std::string> package_version(process::ProcessRunner& runner, const std::string& pkg) {
  auto r = LOB_TRY(runner.run({"dpkg-query", "-W", "-f", "${Version}", pkg}, {}));
  if (!r.ok() || r.out.empty()) {
    return with_hint(Error{ErrorCode::kPreflightFailed, "package " + pkg + " is not installed"},
                     "apt-get install " + pkg);
  }
  return r.out;
}

// Exchanges the staging directory with the live one (or renames it into place), then removes
// what was live before.
Status publish(const std::string& staging, const std::string& final_dir) {
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
    return fs::remove_tree(staging);
  }
  if (errno != ENOENT)
    return errno_error(ErrorCode::kIoFailed, "replace " + final_dir);
  if (::rename(staging.c_str(), final_dir.c_str()) != 0) {
    return errno_error(ErrorCode::kIoFailed, "rename " + staging);
  }
  return ok();
}

struct Inputs {
  std::string kver;
  std::string lobster_init;
  std::string testgw;
  std::string lobster_init_id;
  std::map<std::string, std::string> packages;
};

Result<Inputs> gather_inputs(process::ProcessRunner& runner, const BuildOptions& opt) {
  Inputs in;
  in.kver = opt.kernel_version.empty() ? LOB_TRY(find_installed_kernel()) : opt.kernel_version;
  in.lobster_init = LOB_TRY(find_guest_binary("lobster-init", opt.guest_bin_dir));
  if (opt.profile == kProfileMinimal) {
    in.testgw = LOB_TRY(find_guest_binary("lobster-testgw", opt.guest_bin_dir));
  }
  in.lobster_init_id = LOB_TRY(sha256_file(in.lobster_init));
  in.packages["kernel"] = LOB_TRY(package_version(runner, "linux-image-" + in.kver));
  in.packages["busybox"] = LOB_TRY(package_version(runner, "busybox-static"));
  in.packages["dropbear"] = LOB_TRY(package_version(runner, "dropbear-bin"));
  if (opt.profile == kProfileOpenclaw) {
    in.packages["openclaw"] = std::string(guest::kOpenClawVersion);
    in.packages["node"] = std::string(guest::kNodeLinuxX64Version);
    in.packages["debian"] = "bookworm minbase";
    in.packages["openclaw-patches"] = std::string(kOpenClawPatchSet);
  }
  for (const char* tool : {"mkfs.ext4", "xz", "gzip", "ldd"}) {
    if (!process::find_executable(tool)) {
      return with_hint(Error{ErrorCode::kPreflightFailed, std::string(tool) + " not found"},
                       "apt-get install e2fsprogs xz-utils gzip");
    }
  }
  if (opt.profile == kProfileOpenclaw) {
    for (const char* tool : {"mmdebstrap", "npm", "tar"}) {
      if (!process::find_executable(tool)) {
        return with_hint(Error{ErrorCode::kPreflightFailed, std::string(tool) + " not found"},
                         "apt-get install mmdebstrap npm");
      }
    }
  }
  return in;
}

bool up_to_date(ImageVerifier& verifier, const BuildOptions& opt, const Inputs& in) {
  auto current = verifier.verify(opt.profile);
  return current && current->kernel_version == in.kver &&
         current->lobster_init_build_id == in.lobster_init_id && current->packages == in.packages;
}

}  // namespace

Result<std::string> find_guest_binary(const std::string& name, const std::string& dir) {
  std::vector<std::string> candidates;
  if (!dir.empty()) {
    candidates.push_back(dir + "/" + name);
  } else {
    if (const char* env = std::getenv("LOBSTER_GUEST_BIN_DIR"); env != nullptr && *env != '\0') {
      candidates.push_back(std::string(env) + "/" + name);
    }
    // In a build tree the binaries sit in src/guest[/testgw] below the build root; walk up from
    // the running binary (build/src/daemon/lobsterd, build/tests/e2e/x/...) to find it. A
    // build tree's own guest binaries come before installed ones, which may be older.
    std::string d = exe_dir();
    for (int up = 0; up < 5 && !d.empty(); ++up) {
      candidates.push_back(d + "/src/guest/" + name);
      candidates.push_back(d + "/src/guest/testgw/" + name);
      d = d.substr(0, d.rfind('/'));
    }
    candidates.push_back(std::string(LOBSTER_GUEST_INSTALL_DIR) + "/" + name);
  }
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0)
      return c;
  }
  return with_hint(Error{ErrorCode::kPreflightFailed, "guest binary " + name + " not found"},
                   "build and install lobsterd (cmake --install) or set LOBSTER_GUEST_BIN_DIR");
}

Result<BuildResult> build_image(process::ProcessRunner& runner, const Paths& paths,
                                const BuildOptions& opt) {
  const int64_t start = now_ms();
  const Progress progress = opt.progress ? opt.progress : [](const std::string&) {};
  if (opt.profile != kProfileMinimal && opt.profile != kProfileOpenclaw) {
    return make_error(ErrorCode::kValidationFailed,
                      "unknown image profile '{}' (expected minimal or openclaw)", opt.profile);
  }
  if (::geteuid() != 0) {
    return make_error(ErrorCode::kNotRoot, "building guest images needs root");
  }
  const Inputs in = LOB_TRY(gather_inputs(runner, opt));
  ImageVerifier verifier(paths.images_dir());
  BuildResult result;
  result.dir = verifier.profile_dir(opt.profile);
  if (!opt.force && up_to_date(verifier, opt, in)) {
    result.manifest = LOB_TRY(verifier.verify(opt.profile));
    result.elapsed_ms = now_ms() - start;
    progress("image " + opt.profile + " is up to date (use --force to rebuild)");
    return result;
  }

  LOB_TRY(fs::ensure_dir(paths.images_dir(), 0755));
  const std::string staging =
      paths.images_dir() + "/." + opt.profile + ".build-" + std::to_string(::getpid());
  (void)fs::remove_tree(staging);
  LOB_TRY(fs::ensure_dir(staging, 0755));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (!dir.empty())
        (void)fs::remove_tree(dir);
    }
  } cleanup{staging};
  const std::string work = staging + "/work";

  progress("[1/4] kernel " + in.kver + ": extracting vmlinux");
  LOB_TRY(extract_vmlinux(runner, "/boot/vmlinuz-" + in.kver, staging + "/vmlinux"));

  progress("[2/4] initramfs: busybox + modules + /init");
  LOB_TRY(collect_modules(runner, in.kver, kGuestModules, work + "/modules"));
  const std::string initramfs =
      LOB_TRY(build_initramfs(runner, "/bin/busybox", work + "/modules", kInitramfsGzip));
  LOB_TRY(fs::write_file_atomic(staging + "/initramfs.cpio", initramfs, 0644));

  progress("[3/4] rootfs " + opt.profile + ": populating");
  RootfsInputs rin;
  rin.lobster_init = in.lobster_init;
  rin.testgw = in.testgw;
  rin.cache_dir = opt.cache_dir.empty() ? paths.images_dir() + "/cache" : opt.cache_dir;
  rin.node_version = std::string(guest::kNodeLinuxX64Version);
  rin.openclaw_version = std::string(guest::kOpenClawVersion);
  const std::string tree = work + "/rootfs";
  if (opt.profile == kProfileMinimal) {
    LOB_TRY(populate_minimal_rootfs(runner, rin, tree));
  } else {
    LOB_TRY(populate_openclaw_rootfs(runner, rin, tree, progress));
  }
  progress("[3/4] rootfs " + opt.profile + ": mkfs.ext4 -d");
  LOB_TRY(make_rootfs_image(runner, tree, staging + "/rootfs.ext4"));
  LOB_TRY(fs::remove_tree(work));

  progress("[4/4] manifest: hashing artifacts");
  Manifest& m = result.manifest;
  m.profile = opt.profile;
  m.built_at = utc_now();
  m.kernel_version = in.kver;
  m.packages = in.packages;
  m.lobster_init_build_id = in.lobster_init_id;
  m.artifacts["vmlinux"] = LOB_TRY(describe_artifact(staging + "/vmlinux"));
  m.artifacts["initramfs"] = LOB_TRY(describe_artifact(staging + "/initramfs.cpio"));
  m.artifacts["rootfs"] = LOB_TRY(describe_artifact(staging + "/rootfs.ext4"));
  LOB_TRY(
      fs::write_file_atomic(staging + "/" + std::string(kManifestFile), manifest_to_json(m), 0644));
  LOB_TRY(publish(staging, result.dir));
  cleanup.dir.clear();
  result.rebuilt = true;
  result.elapsed_ms = now_ms() - start;
  progress("image " + opt.profile + " built in " + std::to_string(result.elapsed_ms / 1000) +
           " s: " + result.dir);
  return result;
}

}  // namespace lobster::image
