// ActivitySource: the host's half of idle detection (DESIGN.md "Autonomy"): when did a client
// last send something to a tenant? The scheduler treats a tenant as busy while that was less
// than watchdog.idleThresholdMs ago.
//
// Implementations:
//   GuestInboundActivity (here)  the guest's own view: clients connected to its gateway port
//                                (get-active-connections "tcp"); a connection seen counts as
//                                activity at the moment it is seen
//   the ingress (ingress branch) per-tenant bytes, connections and last activity as relayed;
//                                plugs in through this interface
//   testing::FakeActivity        set by unit tests
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace lobster::tenant {
class TenantService;
}

namespace lobster::sched {

class ActivitySource {
 public:
  virtual ~ActivitySource() = default;
  // Wall-clock ms of the latest client -> tenant activity (a new connection or bytes), or
  // nullopt if none was seen since the daemon started. Thread-safe; bounded (a few seconds).
  virtual std::optional<int64_t> last_client_activity_ms(const std::string& tenant) = 0;
};

class GuestInboundActivity final : public ActivitySource {
 public:
  explicit GuestInboundActivity(tenant::TenantService& service) : service_(service) {}
  std::optional<int64_t> last_client_activity_ms(const std::string& tenant) override;

 private:
  tenant::TenantService& service_;
  std::mutex mu_;
  std::map<std::string, int64_t> last_;
};

namespace testing {

class FakeActivity final : public ActivitySource {
 public:
  std::optional<int64_t> last_client_activity_ms(const std::string& tenant) override {
    std::lock_guard lock(mu_);
    auto it = last_.find(tenant);
    return it == last_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  void set(const std::string& tenant, int64_t at_ms) {
    std::lock_guard lock(mu_);
    last_[tenant] = at_ms;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> last_;
};

}  // namespace testing
}  // namespace lobster::sched
