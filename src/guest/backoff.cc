#include "guest/backoff.h"

namespace lobster::guest {

int64_t backoff_delay_ms(const BackoffPolicy& policy, int failures) {
  int64_t d = policy.initial_ms;
  for (int i = 1; i < failures && d < policy.max_ms; ++i) {
    d *= 2;
  }
  return d < policy.max_ms ? d : policy.max_ms;
}

int64_t RestartBackoff::on_exit(int64_t started_ms, int64_t exited_ms) {
  if (exited_ms - started_ms >= policy_.stable_ms) {
    failures_ = 0;
  }
  if (failures_ < 64) {
    ++failures_;
  }
  return backoff_delay_ms(policy_, failures_);
}

}  // namespace lobster::guest
