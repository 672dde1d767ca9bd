// Autonomy: the daemon's own loops over the fleet (DESIGN.md "Autonomy"), hosted by one
// LoopHost on the injected clock. Built by the daemon after reconcile; the API reads the
// watchdog's states through it.
//
// Tasks:
//   "watchdog"       every watchdog.intervalMs, first run at start (a start is a possible host
//                    reboot: active tenants whose VMM is gone are cold-booted by its repairs)
//   "vm-sync"        every second: the ExitWatcher follows every active tenant's VMM
//   "vm-exit:<t>"    a VMM died: unless an operation stopped it on purpose, one "vm.exited"
//                    event naming the cause (OOM from memory.events), the tenant DEGRADED at
//                    once, and the watchdog poked to repair it
//   "sched"          every watchdog.trafficPollMs: idle auto-suspend and wake timers
//                    (scheduler.h)
//   "wake:<t>"       a suspended tenant's cron/heartbeat wake (armed by the scheduler)
//   "poke-cron:<t>"  re-arming the guest's cron timers after a resume, off the resume path
// With watchdog.enabled = false none of these run (VMM deaths are still reaped and reported).
//
//   Autonomy a(service, clock);
//   a.start();   // after reconcile
//   ...
//   a.stop();    // before the service goes away
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "health/watchdog.h"
#include "sched/activity.h"
#include "sched/exit_watcher.h"
#include "sched/loop_host.h"
#include "sched/scheduler.h"
#include "tenant/service.h"

namespace lobster::sched {

inline constexpr int64_t kVmSyncMs = 1000;

class Autonomy {
 public:
  // `activity` (not owned) tells client activity; nullptr: the guest's own view
  // (GuestInboundActivity) until the ingress provides one.
  Autonomy(tenant::TenantService& service, const Clock& clock, ActivitySource* activity = nullptr);
  ~Autonomy();

  // Registers the tasks and starts the loop host and the exit watcher.
  void start();
  // Stops both; running tasks finish first.
  void stop();

  health::Watchdog& watchdog() { return watchdog_; }
  Scheduler& scheduler() { return scheduler_; }
  LoopHost& host() { return host_; }

  // Registers the tasks without starting threads (unit tests drive host().run_due_for_test()
  // and call on_exit() themselves: their fake VMMs have no pids to watch).
  void register_tasks_for_test() { register_tasks(false); }
  // What the exit watcher calls (tests call it directly).
  void on_exit(const VmExit& exit);
  // Follows the store: every active tenant's recorded VMM is watched.
  void sync_exits();

 private:
  void register_tasks(bool watch_exits);
  void handle_exit(const VmExit& exit, int deferrals);

  tenant::TenantService& service_;
  const Clock& clock_;
  health::Watchdog watchdog_;
  LoopHost host_;
  ExitWatcher exits_;
  GuestInboundActivity guest_activity_;
  Scheduler scheduler_;
};

}  // namespace lobster::sched
