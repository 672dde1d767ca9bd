// TempDir: a private temporary directory for a test, removed with everything in it on
// destruction. path() is empty if it could not be created (tests assert on it).
#pragma once

#include <stdlib.h>

#include <string>

#include "core/fs.h"

namespace lobster::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = ::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
    std::string templ = std::string(base != nullptr ? base : "/tmp") + "/lobster-test-XXXXXX";
    if (::mkdtemp(templ.data()) != nullptr) {
      path_ = templ;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (!path_.empty()) {
      (void)fs::remove_tree(path_);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lobster::testing
