#include "sched/activity.h"

#include "tenant/service.h"

namespace lobster::sched {

std::optional<int64_t> GuestInboundActivity::last_client_activity_ms(const std::string& tenant) {
  tenant::TenantEnv& env = service_.env();
  auto t = env.store->get_tenant(tenant);
  if (t && t->status == store::TenantStatus::kActive) {
    if (auto f = tenant::facts_for(env, *t); f) {
      auto conns = tenant::agent_for(env, *t, *f).get_active_connections();
      if (conns && conns->tcp > 0) {
        std::lock_guard lock(mu_);
        last_[tenant] = env.clock->now_ms();
      }
    }
  }
  std::lock_guard lock(mu_);
  auto it = last_.find(tenant);
  return it == last_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

}  // namespace lobster::sched
