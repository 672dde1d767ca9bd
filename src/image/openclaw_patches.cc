#include "image/openclaw_patches.h"

#include <sys/stat.h>

#include <filesystem>

#include "core/fs.h"

namespace lobster::image {

const std::vector<SourcePatch>& openclaw_patches() {
  static const std::vector<SourcePatch> patches = {
      {"LEASE_HEARTBEAT_START_TIMEOUT_MS = 5e3", "LEASE_HEARTBEAT_START_TIMEOUT_MS = 6e4"},
      {"const WORKER_RESPONSE_TIMEOUT_MS = 1e3;", "const WORKER_RESPONSE_TIMEOUT_MS = 1e4;"},
  };
  return patches;
}

size_t apply_patch(std::string& text, const SourcePatch& p) {
  if (p.from.empty())
    return 0;
  size_t count = 0;
  for (size_t pos = text.find(p.from); pos != std::string::npos;
       pos = text.find(p.from, pos + p.to.size())) {
    text.replace(pos, p.from.size(), p.to);
    ++count;
  }
  return count;
}

Status apply_source_patches(const std::string& dir, const std::vector<SourcePatch>& patches) {
  std::vector<size_t> hits(patches.size(), 0);
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  if (ec)
    return make_error(ErrorCode::kImageBuildFailed, "cannot read {}: {}", dir, ec.message());
  for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec)
      return make_error(ErrorCode::kImageBuildFailed, "cannot read {}: {}", dir, ec.message());
    const auto& path = it->path();
    if (!it->is_regular_file(ec) || (path.extension() != ".js" && path.extension() != ".mjs"))
      continue;
    auto text = LOB_TRY(fs::read_file(path.string()));
    size_t changed = 0;
    for (size_t i = 0; i < patches.size(); ++i) {
      size_t n = apply_patch(text, patches[i]);
      hits[i] += n;
      changed += n;
    }
    if (changed == 0)
      continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return errno_error(ErrorCode::kImageBuildFailed, "stat " + path.string());
    LOB_TRY(fs::write_file_atomic(path.string(), text, st.st_mode & 07777));
  }
  for (size_t i = 0; i < patches.size(); ++i) {
    if (hits[i] == 0) {
      return with_hint(
          Error{ErrorCode::kImageBuildFailed, fmt::format("openclaw patch not applicable: \"{}\" "
                                                          "not found in {}",
                                                          patches[i].from, dir)},
          "the pinned OpenClaw version changed; review src/image/openclaw_patches.cc");
    }
  }
  return ok();
}

}  // namespace lobster::image
