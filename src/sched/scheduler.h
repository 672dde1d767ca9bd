// Scheduler (spec §9, DESIGN.md "Autonomy"): idle auto-suspend and cron/heartbeat wake timers.
//
// poll() runs every watchdog.trafficPollMs (never overlapping). For each active tenant that is
// HEALTHY (never DEGRADED, FAILED or RECOVERING), has no operation in flight and is past its
// post-wake grace window, it is busy while any of these holds: a hold in the store (exec,
// configure, logs, API holds; expired ones are pruned first), a running cron job, a guest-side
// hold or an outbound connection the guest keeps open (get-active-connections), or client
// activity within watchdog.idleThresholdMs (ActivitySource). An agent that does not answer
// leaves the idle clock as it was. Idle for idleThresholdMs -> suspend (with
// watchdog.idleSuspend only), under the tenant's lock taken without waiting.
//
// Wake timers: a suspended tenant's suspend_info.nextWakeAtMs (already watchdog.cronWakeAheadMs
// before the cron run or heartbeat) arms a one-shot task; poll() arms missing ones, so timers
// come back after a daemon restart and a wake time already past fires at once (catch-up).
// After a timer's resume the tenant gets a grace window (cronWakeAheadMs + kWakeGraceMs) in
// which it is not suspended, so the job can start.
//
// Events (health/events.h, log + audit): sched.suspend {reason, idleMs, nextWakeAtMs,
// wakeReason}, sched.suspend-skipped {reason}, sched.suspend-failed, sched.resume {trigger},
// sched.resume-failed.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "health/watchdog.h"
#include "sched/activity.h"
#include "sched/loop_host.h"
#include "tenant/service.h"

namespace lobster::sched {

inline constexpr int64_t kWakeGraceMs = 5'000;
inline constexpr int64_t kWakeRetryMs = 1'000;
inline constexpr int kWakeRetries = 120;

class Scheduler {
 public:
  Scheduler(tenant::TenantService& service, health::Watchdog& watchdog, LoopHost& host,
            ActivitySource& activity, const Clock& clock);

  // One idle pass over every tenant (see above).
  void poll();
  // Why `tenant` is busy right now ("hold", "cron job running", "2 outbound connection(s)",
  // "client activity 3 s ago"); empty = idle; nullopt = unknown (agent unreachable).
  std::optional<std::vector<std::string>> busy_reasons(const store::Tenant& tenant);
  // Monotonic ms since which the tenant has been seen idle (nullopt: not idle).
  std::optional<int64_t> idle_since(const std::string& tenant) const;
  // Wall-clock ms the tenant's wake timer is armed for (nullopt: none).
  std::optional<int64_t> armed_wake(const std::string& tenant) const;

 private:
  void suspend_idle(const std::string& name, int64_t idle_ms);
  void note_busy(const std::string& name, const std::vector<std::string>& reasons);
  void arm_wake(const store::Tenant& t);
  void wake(const std::string& name, const std::string& reason, int attempt);

  tenant::TenantService& service_;
  health::Watchdog& watchdog_;
  LoopHost& host_;
  ActivitySource& activity_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> idle_since_;   // monotonic
  std::map<std::string, int64_t> grace_until_;  // monotonic
  std::map<std::string, int64_t> armed_;        // wall clock of the armed wake
  std::map<std::string, std::string> busy_;     // last logged busy reasons
};

}  // namespace lobster::sched
