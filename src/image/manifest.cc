#include "image/manifest.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/unique_fd.h"

namespace lobster::image {
namespace {

int64_t ns_of(const timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; }

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string manifest_to_json(const Manifest& m) {
  nlohmann::json artifacts = nlohmann::json::object();
  for (const auto& [name, a] : m.artifacts) {
    artifacts[name] = {{"file", a.file}, {"sha256", a.sha256}, {"size", a.size}};
  }
  const nlohmann::json doc = {
      {"format", m.format},     {"profile", m.profile},
      {"builtAt", m.built_at},  {"kernel", {{"version", m.kernel_version}}},
      {"packages", m.packages}, {"lobsterInit", {{"buildId", m.lobster_init_build_id}}},
      {"artifacts", artifacts},
  };
  return doc.dump(2) + "\n";
}

Result<Manifest> manifest_from_json(std::string_view text) {
  Manifest m;
  try {
    const auto doc = nlohmann::json::parse(text);
    m.format = doc.at("format").get<int>();
    if (m.format != 1) {
      return make_error(ErrorCode::kImageCorrupt, "manifest format {} is not supported", m.format);
    }
    m.profile = doc.at("profile").get<std::string>();
    m.built_at = doc.value("builtAt", "");
    m.kernel_version = doc.at("kernel").at("version").get<std::string>();
    m.packages = doc.value("packages", std::map<std::string, std::string>{});
    m.lobster_init_build_id = doc.at("lobsterInit").at("buildId").get<std::string>();
    for (const auto& [name, a] : doc.at("artifacts").items()) {
      Artifact art{a.at("file").get<std::string>(), a.at("sha256").get<std::string>(),
                   a.at("size").get<uint64_t>()};
      if (art.file.empty() || art.file.find('/') != std::string::npos || art.file == "..") {
        return make_error(ErrorCode::kImageCorrupt, "manifest artifact {} has a bad file name",
                          name);
      }
      m.artifacts[name] = std::move(art);
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kImageCorrupt, "manifest is invalid: {}", e.what());
  }
  return m;
}

Result<std::string> sha256_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return errno_error(ErrorCode::kIoFailed, "open " + path);
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::string buf(size_t{1} << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno_error(ErrorCode::kIoFailed, "read " + path);
    if (n == 0)
      break;
    // Kernel ABI: none; libsodium takes unsigned bytes, the buffer is plain char storage.
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(buf.data()),
                              static_cast<unsigned long long>(n));
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return hex(digest, sizeof(digest));
}

Result<Artifact> describe_artifact(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return errno_error(ErrorCode::kIoFailed, "stat " + path);
  const size_t slash = path.rfind('/');
  return Artifact{slash == std::string::npos ? path : path.substr(slash + 1),
                  LOB_TRY(sha256_file(path)), static_cast<uint64_t>(st.st_size)};
}

std::string ImageVerifier::profile_dir(std::string_view profile) const {
  return images_dir_ + "/" + std::string(profile);
}

std::string ImageVerifier::artifact_path(std::string_view profile, const Artifact& a) const {
  return profile_dir(profile) + "/" + a.file;
}

Result<Manifest> ImageVerifier::verify(std::string_view profile) {
  const std::string manifest_path = profile_dir(profile) + "/" + std::string(kManifestFile);
  auto text = fs::read_file(manifest_path);
  if (!text) {
    if (text.error().sys_errno == ENOENT) {
      return with_hint(Error{ErrorCode::kImageMissing,
                             "image profile '" + std::string(profile) + "' is not built"},
                       "run: lobsterd image build --profile " + std::string(profile));
    }
    Error e = std::move(text).error();
    e.code = ErrorCode::kImageCorrupt;
    return make_error(std::move(e));
  }
  Manifest m = LOB_TRY(manifest_from_json(*text));
  if (m.profile != profile) {
    return make_error(ErrorCode::kImageCorrupt, "manifest in {} describes profile '{}'",
                      profile_dir(profile), m.profile);
  }
  for (const char* required : {"vmlinux", "initramfs", "rootfs"}) {
    if (!m.artifacts.contains(required)) {
      return make_error(ErrorCode::kImageCorrupt, "manifest of '{}' lists no {}", profile,
                        required);
    }
  }
  const std::string hint =
      "rebuild: lobsterd image build --force --profile " + std::string(profile);
  for (const auto& [name, a] : m.artifacts) {
    const std::string path = artifact_path(profile, a);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return with_hint(
          Error{ErrorCode::kImageCorrupt, "image artifact " + path + " is missing", errno}, hint);
    }
    FileKey key{static_cast<uint64_t>(st.st_dev),
                static_cast<uint64_t>(st.st_ino),
                static_cast<uint64_t>(st.st_size),
                ns_of(st.st_mtim),
                ns_of(st.st_ctim),
                a.sha256};
    {
      std::lock_guard lock(mu_);
      if (auto it = verified_.find(path); it != verified_.end() && it->second == key)
        continue;
    }
    if (key.size != a.size) {
      return with_hint(Error{ErrorCode::kImageCorrupt,
                             fmt::format("image artifact {} has {} bytes, manifest says {}", path,
                                         key.size, a.size)},
                       hint);
    }
    const std::string digest = LOB_TRY(sha256_file(path));
    std::lock_guard lock(mu_);
    ++hashes_;
    if (digest != a.sha256) {
      verified_.erase(path);
      return with_hint(Error{ErrorCode::kImageCorrupt,
                             "image artifact " + path + " does not match its manifest sha256"},
                       hint);
    }
    verified_[path] = key;
  }
  return m;
}

}  // namespace lobster::image
