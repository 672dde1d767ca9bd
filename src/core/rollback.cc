#include "core/rollback.h"

#include "core/log.h"

namespace lobster {

size_t Rollback::unwind() {
  size_t failed = 0;
  while (!steps_.empty()) {
    Step step = std::move(steps_.back());
    steps_.pop_back();
    Status s = step.undo();
    if (!s) {
      ++failed;
      log::warn("rollback", {{"operation", operation_},
                             {"step", step.name},
                             {"error", s.error().to_string()}});
    }
  }
  return failed;
}

}  // namespace lobster
