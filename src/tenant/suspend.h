// suspend / resume (spec §6.7, §6.8, DESIGN.md "Proxy").
//
// suspend: active -> suspending (compare-and-set) -> ask the agent for cron jobs and the
// heartbeat (soft: unknown schedules never block a suspend) -> skip with kSuspendSkipped when
// a wake is due within watchdog.cronWakeAheadMs -> snapshot into <snapshots>/<name> (0700 dir,
// 0600 files) -> stop the VMM -> suspended, with SuspendInfo (spec §3) recorded. Any failure
// before the VMM is gone resumes the guest and restores "active" (spec §16 item 7).
// TAP, rules and routes stay while suspended.
//
// resume: suspended -> resuming -> restore the VMM from the snapshot -> set the guest clock
// -> delete the snapshot -> active; then re-arm the guest's cron timers (poke-cron, soft) in
// the background (env.run_in_background), so resume never waits on the gateway. A failure stops the
// half-started VMM and restores "suspended" with the snapshot intact.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/agent_client.h"
#include "store/types.h"
#include "tenant/env.h"
#include "tenant/phases.h"

namespace lobster::tenant {

// Bound of the background poke-cron after a resume.
inline constexpr int64_t kBackgroundPokeCronMs = 5'000;

struct WakePlan {
  std::optional<int64_t> next_wake_at_ms;  // earliest cron run / heartbeat minus the lead time
  std::string reason;                      // "cron" | "heartbeat" | ""
};

// Pure: the wake time from schedules (spec §6.7 steps 4 and 10). Only runs strictly after
// `now_ms` count.
WakePlan plan_wake(const std::vector<agent::CronSchedule>& cron,
                   const std::optional<agent::HeartbeatSchedule>& heartbeat, int64_t now_ms,
                   int64_t wake_ahead_ms);

// phases: "schedules", "record", "snapshot", "stop", "cgroup", "finish" (see suspend.cc).
struct SuspendResult {
  store::Tenant tenant;
  WakePlan wake;
  std::vector<Phase> phases;
};

// phases: "record", "restore" (VMM restored from the snapshot), "agent" (until the guest agent
// answers), "clock" (guest clock), "finish".
struct ResumeResult {
  store::Tenant tenant;
  std::vector<Phase> phases;
};

// Errors: kTenantNotFound, kSuspendFailed (not active: message names the status),
// kSuspendSkipped, kSnapshotFailed and VMM codes.
Result<SuspendResult> suspend(TenantEnv& env, const std::string& name, const store::Actor& actor,
                              const Progress& progress);

// Errors: kTenantNotFound, kResumeFailed (not suspended), VMM codes, kVsockConnectFailed.
Result<ResumeResult> resume(TenantEnv& env, const std::string& name, const store::Actor& actor,
                            const Progress& progress);

}  // namespace lobster::tenant
