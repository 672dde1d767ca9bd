#include "image/overlay.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "core/fs.h"
#include "core/unique_fd.h"

namespace lobster::image {

std::vector<std::string> mkfs_ext4_argv(const std::string& image, std::string_view label,
                                        const std::string& source_dir, uint64_t inodes,
                                        bool journal) {
  // lazy_*_init keeps a sparse image sparse (the file is all zeros already); root_owner makes
  // the top directory root-owned whatever our uid.
  std::vector<std::string> argv = {"mkfs.ext4",
                                   "-q",
                                   "-F",
                                   "-L",
                                   std::string(label),
                                   "-m",
                                   "0",
                                   "-E",
                                   "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0"};
  if (inodes != 0)
    argv.insert(argv.end(), {"-N", std::to_string(inodes)});
  if (!journal)
    argv.insert(argv.end(), {"-O", "^has_journal"});
  argv.insert(argv.end(), {"-d", source_dir, image});
  return argv;
}

Status create_overlay(process::ProcessRunner& runner, const std::string& path, uint64_t size_mb) {
  if (size_mb < 16) {
    return make_error(ErrorCode::kValidationFailed, "overlay size {} MiB is below 16 MiB", size_mb);
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd)
    return errno_error(ErrorCode::kOverlayCreateFailed, "create overlay " + path);
  bool keep = false;
  struct Cleanup {
    const std::string& path;
    bool& keep;
    std::string skeleton;
    ~Cleanup() {
      if (!keep)
        ::unlink(path.c_str());
      if (!skeleton.empty())
        (void)fs::remove_tree(skeleton);
    }
  } cleanup{path, keep, {}};
  if (::ftruncate(fd.get(), static_cast<off_t>(size_mb << 20)) != 0) {
    return errno_error(ErrorCode::kOverlayCreateFailed, "size overlay " + path);
  }
  fd.reset();

  std::string tmpl = path + ".skel-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return errno_error(ErrorCode::kOverlayCreateFailed, "create overlay skeleton for " + path);
  }
  cleanup.skeleton = tmpl;
  LOB_TRY(fs::ensure_dir(tmpl + "/upper", 0755));
  LOB_TRY(fs::ensure_dir(tmpl + "/work", 0755));
  process::RunOptions options;
  options.timeout_ms = 120'000;
  auto r = runner.run_checked(mkfs_ext4_argv(path, kOverlayLabel, tmpl), options);
  if (!r) {
    Error e = std::move(r).error();
    e.code = ErrorCode::kOverlayCreateFailed;
    e.message = "format overlay " + path + ": " + e.message;
    return make_error(std::move(e));
  }
  keep = true;
  return ok();
}

}  // namespace lobster::image
