// Autonomy events (issue 16 "Events"): every state change, repair, VMM exit, suspend, skip and
// resume the daemon's own loops cause is ONE structured daemon log line and ONE audit row with
// the same event name and fields, so `lobsterd logs --daemon` and the audit log tell the same
// story. Callers: the watchdog, the VMM-exit handler and the scheduler.
//
//   record_event(*env.store, log::Level::kWarn, "vm.exited", "alice",
//                {{"pid", 4242}, {"cause", "oom"}}, "VM_EXITED");
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/log.h"
#include "store/store.h"

namespace lobster::health {

// Writes the log line {"event": event, "tenant": tenant, ...fields} at `level` and appends the
// audit row {actor "daemon", operation event, tenant, outcome, detail = fields as JSON}. A
// failing audit write is logged, never returned: the event itself already happened.
void record_event(store::Store& store, log::Level level, std::string_view event,
                  const std::string& tenant, const nlohmann::json& fields,
                  std::string_view outcome = "ok");

}  // namespace lobster::health
