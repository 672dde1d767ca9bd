#include "daemon/ingress_activity.h"

#include <algorithm>

#include "ingress/activity.h"

namespace lobster::daemon {

std::optional<int64_t> IngressActivity::last_client_activity_ms(const std::string& tenant) {
  auto report = ingress::query_activity(control_socket_);
  if (!report)
    return fallback_.last_client_activity_ms(tenant);
  const ingress::TenantActivity* a = report->find(tenant);
  int64_t last = a != nullptr ? a->last_client_activity_ms : 0;
  return std::max(last, report->started_ms);
}

}  // namespace lobster::daemon
