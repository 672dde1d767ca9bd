// Small file-system helpers with Result errors (code kIoFailed unless stated).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/error.h"

namespace lobster::fs {

// Reads a whole file. Missing file -> kIoFailed with sys_errno ENOENT.
Result<std::string> read_file(const std::string& path);

// The last `max_lines` lines of a file, reading at most its last `max_bytes` (a partial first
// line is dropped). For showing the end of a log that may be large.
Result<std::string> read_tail(const std::string& path, size_t max_lines, size_t max_bytes = 16384);

// Atomically replaces `path` with `data`: write `<path>.tmp.<pid>` with `mode`, fsync, rename,
// fsync the directory. On failure the old file is untouched and the temp file removed.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0600);

// mkdir -p, then chmod the leaf to `mode` (parents created 0755). Idempotent.
Status ensure_dir(const std::string& path, mode_t mode);

// rm -rf without following symlinks out of the tree. Missing path is success.
Status remove_tree(const std::string& path);

bool exists(const std::string& path);

}  // namespace lobster::fs
