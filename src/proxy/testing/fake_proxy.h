// FakeProxy: in-memory Proxy with the same contract (idempotent add/remove, exact sync).
#pragma once

#include <algorithm>
#include <mutex>

#include "proxy/proxy.h"

namespace lobster::proxy::testing {

class FakeProxy final : public Proxy {
 public:
  Status add_tenant(const TenantRoute& route) override {
    std::lock_guard lock(mu_);
    std::erase_if(routes_, [&](const TenantRoute& r) { return r.tenant == route.tenant; });
    routes_.push_back(route);
    return ok();
  }
  Status remove_tenant(const std::string& tenant) override {
    std::lock_guard lock(mu_);
    std::erase_if(routes_, [&](const TenantRoute& r) { return r.tenant == tenant; });
    return ok();
  }
  Status sync(const std::vector<TenantRoute>& routes) override {
    std::lock_guard lock(mu_);
    routes_ = routes;
    return ok();
  }
  Result<std::vector<std::string>> live_route_ids() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const auto& r : routes_) {
      ids.push_back(ws_route_id(r.tenant));
      ids.push_back(route_id(r.tenant));
    }
    return ids;
  }
  std::vector<TenantRoute> routes() const {
    std::lock_guard lock(mu_);
    return routes_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<TenantRoute> routes_;
};

}  // namespace lobster::proxy::testing
