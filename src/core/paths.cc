#include "core/paths.h"

#include <cstdlib>

namespace lobster {

Paths Paths::under(const std::string& root) {
  Paths p;
  p.root = root;
  if (root.empty()) {
    p.config_dir = "/etc/lobsterd";
    p.data_dir = "/var/lib/lobsterd";
    p.run_dir = "/run/lobsterd";
    p.log_dir = "/var/log/lobsterd";
  } else {
    std::string r = root;
    while (r.size() > 1 && r.back() == '/') {
      r.pop_back();
    }
    p.root = r;
    p.config_dir = r + "/etc";
    p.data_dir = r + "/lib";
    p.run_dir = r + "/run";
    p.log_dir = r + "/log";
  }
  return p;
}

Paths Paths::resolve(const std::string& root_flag) {
  if (!root_flag.empty()) {
    return under(root_flag);
  }
  const char* env = std::getenv("LOBSTERD_ROOT");  // NOLINT(concurrency-mt-unsafe)
  return under(env != nullptr ? std::string(env) : std::string());
}

}  // namespace lobster
