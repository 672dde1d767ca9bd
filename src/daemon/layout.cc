#include "daemon/layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "core/fs.h"

namespace lobster::daemon {

Status ensure_layout(const Paths& paths) {
  if (!paths.root.empty() && !fs::exists(paths.root)) {
    // A custom root keeps whatever mode its creator gave it; a new one is traversable.
    LOB_TRY(fs::ensure_dir(paths.root, 0755));
  }
  const std::vector<std::pair<std::string, mode_t>> dirs = {
      {paths.config_dir, 0711},   {paths.keys_dir(), 0700},     {paths.data_dir, 0711},
      {paths.images_dir(), 0755}, {paths.overlays_dir(), 0700}, {paths.snapshots_dir(), 0700},
      {paths.ssh_dir(), 0700},    {paths.jail_dir(), 0711},     {paths.caddy_dir(), 0700},
      {paths.run_dir, 0755},      {paths.log_dir, 0700},
  };
  for (const auto& [dir, mode] : dirs) {
    LOB_TRY(fs::ensure_dir(dir, mode));
  }
  return ok();
}

Status remove_layout(const Paths& paths) {
  for (const std::string& dir : {paths.run_dir, paths.log_dir, paths.data_dir, paths.config_dir}) {
    LOB_TRY(fs::remove_tree(dir));
  }
  if (!paths.root.empty() && fs::exists(paths.root)) {
    // Only an empty root is removed: it may be a directory the operator also uses.
    if (::rmdir(paths.root.c_str()) != 0 && errno != ENOTEMPTY && errno != EEXIST) {
      return errno_error(ErrorCode::kIoFailed, "remove root " + paths.root);
    }
  }
  return ok();
}

}  // namespace lobster::daemon
