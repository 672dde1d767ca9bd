// Phase timings of one tenant operation (spawn, suspend, resume): how long each named step took,
// from the injected monotonic clock. The API returns them as `phasesMs` so benchmarks can split
// an operation into guest time (VM boot, agent wait) and control-plane time (everything else)
// without guessing from the outside.
//
//   PhaseTimer timer(*env.clock);
//   timer.begin("snapshot");  ...;  timer.begin("stop");  ...;
//   result.phases = timer.finish();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace lobster::tenant {

struct Phase {
  std::string name;
  int64_t ms = 0;

  bool operator==(const Phase&) const = default;
};

class PhaseTimer {
 public:
  explicit PhaseTimer(const Clock& clock) : clock_(clock) {}

  // Ends the running phase, if any, and starts `name`.
  void begin(std::string_view name) {
    end();
    running_ = std::string(name);
    started_ms_ = clock_.monotonic_ms();
  }

  // Ends the running phase, if any.
  void end() {
    if (running_.empty())
      return;
    phases_.push_back({std::move(running_), clock_.monotonic_ms() - started_ms_});
    running_.clear();
  }

  // Ends the running phase and returns every phase in the order they ran.
  std::vector<Phase> finish() {
    end();
    return phases_;
  }

 private:
  const Clock& clock_;
  std::vector<Phase> phases_;
  std::string running_;
  int64_t started_ms_ = 0;
};

}  // namespace lobster::tenant
