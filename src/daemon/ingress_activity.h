// The scheduler's source of client activity when the ingress runs (sched/activity.h): the
// ingress relays every client byte, so its per-tenant "last client activity" (a new connection
// or client -> tenant bytes, ingress/activity.h) is what idle detection needs. When the ingress
// does not answer, the guest's own view (clients connected to its gateway port) stands in, so
// a dead front door never makes a busy tenant look idle.
#pragma once

#include <string>

#include "sched/activity.h"

namespace lobster::daemon {

class IngressActivity final : public sched::ActivitySource {
 public:
  IngressActivity(std::string control_socket, sched::ActivitySource& fallback)
      : control_socket_(std::move(control_socket)), fallback_(fallback) {}

  // A tenant the ingress has not routed a connection for since it started was idle at least
  // since then: the ingress's start time is returned.
  std::optional<int64_t> last_client_activity_ms(const std::string& tenant) override;

 private:
  std::string control_socket_;
  sched::ActivitySource& fallback_;
};

}  // namespace lobster::daemon
