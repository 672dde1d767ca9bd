#include "image/rootfs.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "core/unique_fd.h"
#include "image/overlay.h"

namespace lobster::image {
namespace {

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

Status copy_file(const std::string& src, const std::string& dst, mode_t mode) {
  const std::string data = LOB_TRY(fs::read_file(src));
  LOB_TRY(fs::ensure_dir(parent_of(dst), 0755));
  return fs::write_file_atomic(dst, data, mode);
}

Status write_text(const std::string& path, std::string_view text, mode_t mode) {
  LOB_TRY(fs::ensure_dir(parent_of(path), 0755));
  return fs::write_file_atomic(path, text, mode);
}

Status make_symlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST) {
    return errno_error(ErrorCode::kImageBuildFailed, "symlink " + link);
  }
  return ok();
}

Status chmod_path(const std::string& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "chmod " + path);
  }
  return ok();
}

// nftw passes no user pointer to its callback, so the totals live in thread-locals that
// make_rootfs_image resets before each walk.
thread_local uint64_t g_tree_bytes = 0;
thread_local uint64_t g_tree_entries = 0;

int count_entry(const char*, const struct stat* st, int, FTW*) {
  g_tree_bytes += (static_cast<uint64_t>(st->st_size) + 4095) / 4096 * 4096;
  ++g_tree_entries;
  return 0;
}

}  // namespace

std::string profile_json(const std::string& profile, const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env) {
  const nlohmann::json doc = {
      {"profile", profile},
      {"gateway", {{"argv", argv}, {"env", env}, {"cwd", "/root"}}},
  };
  return doc.dump(2) + "\n";
}

bool rootfs_applet_allowed(std::string_view applet) {
  static const std::set<std::string_view> kDenied = {
      "nc",       "wget",     "telnet",     "telnetd",     "ftpget",     "ftpput",  "tftp",
      "httpd",    "nslookup", "traceroute", "traceroute6", "ssl_client", "udhcpd",  "dumpleases",
      "microcom", "init",     "linuxrc",    "busybox",     "login",      "su",      "passwd",
      "getty",    "sulogin",  "rpm",        "rpm2cpio",    "dpkg",       "dpkg-deb"};
  return !kDenied.contains(applet) && applet.find('/') == std::string_view::npos;
}

Status copy_with_libraries(process::ProcessRunner& runner, const std::string& binary,
                           const std::string& root, const std::string& dest) {
  LOB_TRY(copy_file(binary, root + dest, 0755));
  const auto ldd = LOB_TRY(runner.run_checked({"ldd", binary}));
  std::istringstream lines(ldd.out);
  for (std::string line; std::getline(lines, line);) {
    // "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "\t/lib64/ld-linux... (0x...)"
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    std::string lib;
    if (w.size() >= 3 && w[1] == "=>" && w[2].starts_with('/')) {
      lib = w[2];
    } else if (!w.empty() && w[0].starts_with('/')) {
      lib = w[0];
    }
    if (lib.empty() || fs::exists(root + lib))
      continue;
    LOB_TRY(copy_file(lib, root + lib, 0755));
  }
  return ok();
}

Status populate_minimal_rootfs(process::ProcessRunner& runner, const RootfsInputs& in,
                               const std::string& dir) {
  for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc/lobster", "etc/dropbear", "dev",
                        "proc", "sys", "run", "var/log/lobster", "mnt"}) {
    LOB_TRY(fs::ensure_dir(dir + "/" + d, 0755));
  }
  LOB_TRY(fs::ensure_dir(dir + "/root", 0700));
  LOB_TRY(fs::ensure_dir(dir + "/tmp", 0755));
  LOB_TRY(chmod_path(dir + "/tmp", 01777));

  LOB_TRY(copy_file(in.busybox, dir + "/bin/busybox", 0755));
  const auto list = LOB_TRY(runner.run_checked({in.busybox, "--list"}));
  std::istringstream applets(list.out);
  for (std::string a; std::getline(applets, a);) {
    if (a.empty() || !rootfs_applet_allowed(a))
      continue;
    LOB_TRY(make_symlink("busybox", dir + "/bin/" + a));
  }
  LOB_TRY(copy_with_libraries(runner, in.dropbear, dir, "/usr/sbin/dropbear"));
  LOB_TRY(copy_file(in.lobster_init, dir + "/sbin/lobster-init", 0755));
  LOB_TRY(copy_file(in.testgw, dir + "/usr/bin/lobster-testgw", 0755));

  LOB_TRY(write_text(dir + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644));
  // '*' refuses every password but, unlike '!', still lets dropbear accept public keys.
  LOB_TRY(write_text(dir + "/etc/shadow", "root:*:19000:0:99999:7:::\n", 0600));
  LOB_TRY(write_text(dir + "/etc/group", "root:x:0:\n", 0644));
  LOB_TRY(write_text(dir + "/etc/shells", "/bin/sh\n", 0644));
  LOB_TRY(write_text(dir + "/etc/hosts", "127.0.0.1 localhost\n", 0644));
  LOB_TRY(write_text(dir + "/etc/nsswitch.conf",
                     "passwd: files\ngroup: files\nshadow: files\n"
                     "hosts: files dns\n",
                     0644));
  return write_text(dir + "/etc/lobster/profile.json",
                    profile_json("minimal", {"/usr/bin/lobster-testgw"}, {}), 0644);
}

Status make_rootfs_image(process::ProcessRunner& runner, const std::string& dir,
                         const std::string& image) {
  g_tree_bytes = 0;
  g_tree_entries = 0;
  if (::nftw(dir.c_str(), count_entry, 64, FTW_PHYS) != 0) {
    return errno_error(ErrorCode::kImageBuildFailed, "measure rootfs tree " + dir);
  }
  // Room for ext4 metadata (inode tables, directories, bitmaps): 10 % plus 256 bytes per inode
  // plus a fixed 16 MiB, rounded up to whole MiB.
  const uint64_t inodes = g_tree_entries + g_tree_entries / 4 + 1024;
  const uint64_t bytes = g_tree_bytes + g_tree_bytes / 10 + inodes * 256 + (16u << 20);
  const uint64_t size = (bytes + (1u << 20) - 1) / (1u << 20) * (1u << 20);
  (void)::unlink(image.c_str());
  {
    UniqueFd fd(::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd)
      return errno_error(ErrorCode::kImageBuildFailed, "create " + image);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      return errno_error(ErrorCode::kImageBuildFailed, "size " + image);
    }
  }
  process::RunOptions options;
  options.timeout_ms = 600'000;
  auto r = runner.run_checked(mkfs_ext4_argv(image, kRootfsLabel, dir, inodes, false), options);
  if (!r) {
    Error e = std::move(r).error();
    e.code = ErrorCode::kImageBuildFailed;
    e.message = "pack rootfs " + image + ": " + e.message;
    return make_error(std::move(e));
  }
  return ok();
}

}  // namespace lobster::image
