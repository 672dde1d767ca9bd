// Decompression through the xz / zstd / gzip command-line tools (run by ProcessRunner), shared
// by the kernel extraction and the module collection. Internal to the image module.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "host/process/process.h"
#include "image/kernel.h"

namespace lobster::image {

// The decompressor argv reading stdin and writing stdout. Pure.
std::vector<std::string> decompress_argv(Compression c);

// Decompresses `data`; `what` names the input in error messages. kExecFailed / kExecTimeout
// from the tool.
Result<std::string> decompress(process::ProcessRunner& runner, std::string data, Compression c,
                               const std::string& what);

}  // namespace lobster::image
