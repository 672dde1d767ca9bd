// Image manifest: `<images>/<profile>/manifest.json` records what an image was built from
// (kernel release, package versions, lobster-init build id) and the sha256 + size of every
// artifact. ImageVerifier checks the artifacts against it before each use, caching a full
// verification per file identity (dev, inode, size, mtime, ctime) so a spawn does not re-hash a
// gigabyte rootfs; any write to a file changes its ctime and forces a re-hash.
//
//   ImageVerifier verifier(paths.images_dir());
//   const Manifest m = LOB_TRY(verifier.verify("minimal"));   // kImageMissing / kImageCorrupt
//   std::string kernel = verifier.artifact_path("minimal", m.artifacts.at("vmlinux"));
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lobster::image {

inline constexpr std::string_view kManifestFile = "manifest.json";

struct Artifact {
  std::string file;    // name inside the profile directory ("vmlinux")
  std::string sha256;  // lowercase hex
  uint64_t size = 0;
};

struct Manifest {
  int format = 1;
  std::string profile;
  std::string built_at;                         // RFC 3339 UTC
  std::string kernel_version;                   // "6.1.0-56-amd64"
  std::map<std::string, std::string> packages;  // "busybox" -> "1:1.35.0-4+deb12u1+b1", ...
  std::string lobster_init_build_id;            // sha256 of the lobster-init binary
  std::map<std::string, Artifact> artifacts;    // "vmlinux", "initramfs", "rootfs"
};

std::string manifest_to_json(const Manifest& m);
// kImageCorrupt if the text is not a valid manifest.
Result<Manifest> manifest_from_json(std::string_view text);

// Streams a file through SHA-256. kIoFailed if unreadable.
Result<std::string> sha256_file(const std::string& path);
// Hashes `path` and returns an Artifact named by its basename.
Result<Artifact> describe_artifact(const std::string& path);

class ImageVerifier {
 public:
  explicit ImageVerifier(std::string images_dir) : images_dir_(std::move(images_dir)) {}

  std::string profile_dir(std::string_view profile) const;
  std::string artifact_path(std::string_view profile, const Artifact& a) const;

  // Loads the manifest and checks every artifact's size and sha256. kImageMissing if the
  // profile has no manifest (never built), kImageCorrupt if the manifest is unreadable or any
  // artifact is missing, resized or differs. Thread-safe.
  Result<Manifest> verify(std::string_view profile);

  // Hashes performed so far (tests check that the cache works).
  size_t hashes_for_test() const { return hashes_; }

 private:
  struct FileKey {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    std::string sha256;
    bool operator==(const FileKey&) const = default;
  };
  std::string images_dir_;
  std::mutex mu_;
  std::map<std::string, FileKey> verified_;  // path -> identity at the last good hash
  size_t hashes_ = 0;
};

}  // namespace lobster::image
