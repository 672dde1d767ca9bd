// FakeProxy: in-memory Proxy with the same contract: ensure_running() starts it, check()
// fails until then (or while `down` is set), activity() reports what tests put in `report`.
#pragma once

#include <mutex>

#include "proxy/proxy.h"

namespace lobster::proxy::testing {

class FakeProxy final : public Proxy {
 public:
  Status ensure_running() override {
    std::lock_guard lock(mu_);
    running_ = true;
    down_ = false;
    ++starts_;
    return ok();
  }
  Status check() override {
    std::lock_guard lock(mu_);
    if (!running_ || down_)
      return make_error(ErrorCode::kIngressUnavailable, "fake ingress is not running");
    return ok();
  }
  Result<ingress::ActivityReport> activity() override {
    std::lock_guard lock(mu_);
    return report_;
  }
  // Test hooks.
  void set_down(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  void set_report(ingress::ActivityReport r) {
    std::lock_guard lock(mu_);
    report_ = std::move(r);
  }
  bool running() const {
    std::lock_guard lock(mu_);
    return running_ && !down_;
  }
  int starts() const {
    std::lock_guard lock(mu_);
    return starts_;
  }

 private:
  mutable std::mutex mu_;
  bool running_ = false;
  bool down_ = false;
  int starts_ = 0;
  ingress::ActivityReport report_;
};

}  // namespace lobster::proxy::testing
