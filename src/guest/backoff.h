// Restart policy for supervised services (gateway, dropbear). Pure functions so the schedule is
// unit-tested without processes or clocks.
//
//   RestartBackoff b;                       // 200 ms, doubling, capped at 10 s
//   int64_t delay = b.on_exit(started_ms, exited_ms);
#pragma once

#include <cstdint>

namespace lobster::guest {

struct BackoffPolicy {
  int64_t initial_ms = 200;    // first restart delay
  int64_t max_ms = 10'000;     // cap
  int64_t stable_ms = 10'000;  // a run at least this long resets the delay to initial_ms
};

// Delay before restart number `failures` (1 = first consecutive quick failure): initial * 2^(n-1),
// capped. failures <= 0 gives initial_ms.
int64_t backoff_delay_ms(const BackoffPolicy& policy, int failures);

class RestartBackoff {
 public:
  explicit RestartBackoff(BackoffPolicy policy = {}) : policy_(policy) {}

  // Records an exit of a run that started at `started_ms` and returns the delay before the next
  // start. A run that lasted stable_ms or longer counts as healthy and resets the sequence.
  int64_t on_exit(int64_t started_ms, int64_t exited_ms);
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  BackoffPolicy policy_;
  int failures_ = 0;
};

}  // namespace lobster::guest
