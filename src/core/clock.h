// Clock: injected time source. Real code uses SystemClock; watchdog/scheduler tests advance a
// FakeClock instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace lobster {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
  // Monotonic time in milliseconds (arbitrary origin); use for timeouts and intervals.
  virtual int64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t monotonic_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms), mono_(0) {}
  int64_t now_ms() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  int64_t monotonic_ms() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }
  void advance_ms(int64_t ms) {
    std::lock_guard lock(mu_);
    now_ += ms;
    mono_ += ms;
  }

 private:
  mutable std::mutex mu_;
  int64_t now_;
  int64_t mono_;
};

}  // namespace lobster
