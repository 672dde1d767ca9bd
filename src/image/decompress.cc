#include "image/decompress.h"

namespace lobster::image {

std::vector<std::string> decompress_argv(Compression c) {
  switch (c) {
    case Compression::kXz:
      return {"xz", "--decompress", "--stdout", "--single-stream"};
    case Compression::kZstd:
      return {"zstd", "--decompress", "--stdout", "--quiet"};
    case Compression::kGzip:
      return {"gzip", "--decompress", "--stdout"};
  }
  return {};
}

Result<std::string> decompress(process::ProcessRunner& runner, std::string data, Compression c,
                               const std::string& what) {
  process::RunOptions options;
  options.stdin_data = std::move(data);
  options.timeout_ms = 120'000;
  options.max_output = size_t{1} << 30;
  auto result = runner.run_checked(decompress_argv(c), options);
  if (!result) {
    Error e = std::move(result).error();
    e.message = "decompress " + what + ": " + e.message;
    return make_error(std::move(e));
  }
  return std::move(result->out);
}

}  // namespace lobster::image
