#include "health/events.h"

namespace lobster::health {

void record_event(store::Store& store, log::Level level, std::string_view event,
                  const std::string& tenant, const nlohmann::json& fields,
                  std::string_view outcome) {
  nlohmann::json line = fields.is_object() ? fields : nlohmann::json::object();
  if (!tenant.empty())
    line["tenant"] = tenant;
  if (outcome != "ok")
    line["outcome"] = outcome;
  log::write(level, event, line);
  store::AuditEvent audit;
  audit.actor = store::Actor::daemon().id;
  audit.operation = std::string(event);
  audit.tenant = tenant;
  audit.outcome = std::string(outcome);
  audit.detail = fields.dump();
  if (auto r = store.append_audit(audit); !r) {
    log::error("audit.append_failed", {{"event", event}, {"error", r.error().message}});
  }
}

}  // namespace lobster::health
