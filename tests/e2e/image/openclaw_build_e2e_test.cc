// Builds the openclaw image profile into a temporary root (Debian minbase via mmdebstrap, Node
// 24 and openclaw from npm) and checks its manifest and contents. Takes minutes and needs the
// Debian and npm registries, so it is labelled e2e;slow;openclaw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/fs.h"
#include "core/paths.h"
#include "core/testing/matchers.h"
#include "guest/openclaw_versions.h"
#include "image/builder.h"

namespace lobster::image {
namespace {

using ::lobster::testing::IsOk;
using ::testing::HasSubstr;

TEST(OpenclawImage, BuildsWithPinnedVersionsAndNoPackageManagers) {
  if (::geteuid() != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string_view(ci) == "true")
      FAIL() << "needs root";
    GTEST_SKIP() << "needs root";
  }
  char tmpl[] = "/tmp/lobimg-oc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  // Like the system layout's 0711 data dir: npm runs as nobody and must reach the cache.
  ASSERT_EQ(::chmod(root.c_str(), 0711), 0);
  const Paths paths = Paths::under(root);
  process::PosixProcessRunner runner;
  BuildOptions opt;
  opt.profile = "openclaw";
  opt.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  const auto start = std::chrono::steady_clock::now();
  auto built = build_image(runner, paths, opt);
  ASSERT_THAT(built, IsOk());
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("openclaw image build: %lld s\n", static_cast<long long>(secs));
  for (const auto& [name, a] : built->manifest.artifacts) {
    std::printf("  %s: %llu bytes\n", name.c_str(), static_cast<unsigned long long>(a.size));
  }
  EXPECT_EQ(built->manifest.packages.at("openclaw"), guest::kOpenClawVersion);
  EXPECT_EQ(built->manifest.packages.at("node"), guest::kNodeLinuxX64Version);
  ImageVerifier verifier(paths.images_dir());
  ASSERT_THAT(verifier.verify("openclaw"), IsOk());

  // A forced rebuild reuses the cached Debian tarball, Node and openclaw install.
  opt.force = true;
  const auto restart = std::chrono::steady_clock::now();
  auto rebuilt = build_image(runner, paths, opt);
  ASSERT_THAT(rebuilt, IsOk());
  EXPECT_TRUE(rebuilt->rebuilt);
  std::printf("openclaw image rebuild with warm cache: %lld s\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::steady_clock::now() - restart)
                                         .count()));
  ASSERT_THAT(verifier.verify("openclaw"), IsOk());

  // Look inside the ext4 image without mounting it.
  const std::string image = built->dir + "/rootfs.ext4";
  auto cat = [&](const std::string& path) {
    auto r = runner.run({"debugfs", "-R", "cat " + path, image}, {});
    return r ? r->out : std::string();
  };
  auto exists = [&](const std::string& path) {
    auto r = runner.run({"debugfs", "-R", "stat " + path, image}, {});
    return r && r->err.find("File not found") == std::string::npos && !r->out.empty();
  };
  EXPECT_THAT(cat("/etc/lobster/profile.json"), HasSubstr("\"openclaw\""));
  EXPECT_THAT(cat("/opt/openclaw/node_modules/openclaw/package.json"),
              HasSubstr(std::string(guest::kOpenClawVersion)));
  EXPECT_THAT(cat("/usr/local/bin/openclaw"), HasSubstr("/opt/openclaw/openclaw.mjs"));
  EXPECT_TRUE(exists("/usr/local/bin/node"));
  EXPECT_TRUE(exists("/usr/sbin/lobster-init"));  // /sbin is a symlink in bookworm
  EXPECT_TRUE(exists("/usr/sbin/dropbear"));
  EXPECT_TRUE(exists("/usr/bin/busybox"));
  for (const char* gone : {"/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/npm", "/usr/bin/gcc",
                           "/usr/bin/cc", "/opt/openclaw/node_modules/node-llama-cpp"}) {
    EXPECT_FALSE(exists(gone)) << gone;
  }
  // LOBSTER_E2E_KEEP=1 keeps the image (and the download cache) for inspection or boot tests.
  if (std::getenv("LOBSTER_E2E_KEEP") == nullptr) {
    (void)fs::remove_tree(root);
  } else {
    std::printf("kept %s\n", root.c_str());
  }
}

}  // namespace
}  // namespace lobster::image
