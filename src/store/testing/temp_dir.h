// TempDir: a private temporary directory for a store test, removed on destruction.
#pragma once

#include <stdlib.h>

#include <string>

#include "core/fs.h"

namespace lobster::store::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = ::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr ? base : "/tmp") + "/lobster-store-XXXXXX";
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
  // Empty if mkdtemp failed (tests assert on it).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lobster::store::testing
