// LoopHost: runs the daemon's background work (watchdog ticks, VMM-exit handling, the idle
// scheduler, wake timers) as named tasks on the injected Clock. Each task is either periodic
// (next run `interval_ms()` after its previous run ENDED, so a slow run never overlaps the next
// one, spec §16 item 6) or one-shot (a wake timer). Different tasks may run at the same time on
// the worker pool; one task never runs twice at once. Who touches which tenant is the tasks'
// business: they go through TenantService::try_exclusive, so no task ever acts on a tenant with
// an operation in flight.
//
//   LoopHost host(clock);
//   host.every("watchdog", [&] { return cfg.watchdog.interval_ms; }, [&] { wd.tick(); });
//   host.once("wake:alice", clock.monotonic_ms() + 60'000, [&] { wake("alice"); });
//   host.start(4);       // real time: a dispatcher thread + 4 workers
//   host.poke("watchdog");  // run as soon as possible (after the current run, if one runs)
//   host.stop();         // waits for running tasks
//
// Unit tests never start() it: they advance a FakeClock and call run_due_for_test(), which runs
// the due tasks on the calling thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace lobster::sched {

class LoopHost {
 public:
  using Task = std::function<void()>;

  explicit LoopHost(const Clock& clock);
  ~LoopHost();
  LoopHost(const LoopHost&) = delete;
  LoopHost& operator=(const LoopHost&) = delete;

  // Registers (or replaces) the periodic task `name`. First run `first_delay_ms` from now;
  // each later run `interval_ms()` (read every time, so a changed setting applies at once)
  // after the previous run ended. An interval below 1 ms counts as 1 ms.
  void every(const std::string& name, std::function<int64_t()> interval_ms, Task fn,
             int64_t first_delay_ms = 0);
  // Registers (or re-arms) the one-shot task `name`, due at monotonic time `due_ms`; it is
  // forgotten after it ran. Re-arming a task that is running makes it run once more later.
  void once(const std::string& name, int64_t due_ms, Task fn);
  // Forgets a task (a running one finishes). Returns whether it existed.
  bool cancel(const std::string& name);
  // Makes `name` due now; if it is running, it runs again right after. Unknown names: no-op.
  void poke(const std::string& name);

  // Real-time driving: a dispatcher thread waits for the earliest due task and hands it to
  // one of `workers` threads. Idempotent.
  void start(size_t workers);
  // Stops dispatching and waits for running tasks to end. Idempotent.
  void stop();

  // Runs every task due at the clock's monotonic now, earliest first, on this thread
  // (including tasks that became due by earlier ones in the same call). Returns their names.
  std::vector<std::string> run_due_for_test();
  // Monotonic due time of `name` (nullopt: unknown, or running with nothing pending).
  std::optional<int64_t> due_ms(const std::string& name) const;
  bool has(const std::string& name) const;

 private:
  struct Entry {
    Task fn;
    std::function<int64_t()> interval;  // empty: one-shot
    std::optional<int64_t> due;
    bool running = false;
    uint64_t generation = 0;  // bumped by every (re)registration
  };
  // Picks the earliest due entry at `now` that is not running and marks it running.
  std::optional<std::pair<std::string, Entry*>> take_due(int64_t now);
  void finish(const std::string& name, uint64_t generation);
  void dispatch_loop();
  void run_one(const std::string& name, Task fn, uint64_t generation);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> tasks_;
  bool stopping_ = false;
  bool started_ = false;
  size_t free_workers_ = 0;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  std::vector<std::function<void()>> queue_;  // handed from the dispatcher to workers
  std::condition_variable work_cv_;
  size_t running_ = 0;
};

}  // namespace lobster::sched
