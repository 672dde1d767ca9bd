#include "sched/loop_host.h"

#include <algorithm>

namespace lobster::sched {
namespace {
// The dispatcher re-reads the clock at least this often, so a clock that jumps (or a task
// registered without notify) is never missed for long.
constexpr int64_t kMaxSleepMs = 1000;
}  // namespace

LoopHost::LoopHost(const Clock& clock) : clock_(clock) {}

LoopHost::~LoopHost() { stop(); }

void LoopHost::every(const std::string& name, std::function<int64_t()> interval_ms, Task fn,
                     int64_t first_delay_ms) {
  std::lock_guard lock(mu_);
  Entry& e = tasks_[name];
  e.fn = std::move(fn);
  e.interval = std::move(interval_ms);
  e.due = clock_.monotonic_ms() + std::max<int64_t>(0, first_delay_ms);
  ++e.generation;
  cv_.notify_all();
}

void LoopHost::once(const std::string& name, int64_t due_ms, Task fn) {
  std::lock_guard lock(mu_);
  Entry& e = tasks_[name];
  e.fn = std::move(fn);
  e.interval = nullptr;
  e.due = due_ms;
  ++e.generation;
  cv_.notify_all();
}

bool LoopHost::cancel(const std::string& name) {
  std::lock_guard lock(mu_);
  return tasks_.erase(name) > 0;
}

void LoopHost::poke(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(name);
  if (it == tasks_.end())
    return;
  it->second.due = clock_.monotonic_ms();
  cv_.notify_all();
}

std::optional<int64_t> LoopHost::due_ms(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(name);
  if (it == tasks_.end())
    return std::nullopt;
  return it->second.due;
}

bool LoopHost::has(const std::string& name) const {
  std::lock_guard lock(mu_);
  return tasks_.contains(name);
}

std::optional<std::pair<std::string, LoopHost::Entry*>> LoopHost::take_due(int64_t now) {
  Entry* best = nullptr;
  const std::string* best_name = nullptr;
  for (auto& [name, e] : tasks_) {
    if (e.running || !e.due || *e.due > now)
      continue;
    if (best == nullptr || *e.due < *best->due) {
      best = &e;
      best_name = &name;
    }
  }
  if (best == nullptr)
    return std::nullopt;
  best->running = true;
  best->due.reset();
  return std::make_pair(*best_name, best);
}

void LoopHost::finish(const std::string& name, uint64_t generation) {
  // Called with mu_ held.
  auto it = tasks_.find(name);
  if (it == tasks_.end())
    return;  // cancelled while running
  Entry& e = it->second;
  e.running = false;
  if (e.due)
    return;  // poked or re-armed while running: runs again at that time
  if (!e.interval) {
    if (e.generation == generation)
      tasks_.erase(it);
    return;
  }
  e.due = clock_.monotonic_ms() + std::max<int64_t>(1, e.interval());
}

std::vector<std::string> LoopHost::run_due_for_test() {
  std::vector<std::string> ran;
  for (;;) {
    std::unique_lock lock(mu_);
    auto picked = take_due(clock_.monotonic_ms());
    if (!picked)
      return ran;
    std::string name = picked->first;
    Task fn = picked->second->fn;
    uint64_t generation = picked->second->generation;
    lock.unlock();
    fn();
    lock.lock();
    finish(name, generation);
    ran.push_back(name);
  }
}

void LoopHost::start(size_t workers) {
  std::lock_guard lock(mu_);
  if (started_)
    return;
  started_ = true;
  stopping_ = false;
  free_workers_ = std::max<size_t>(1, workers);
  for (size_t i = 0; i < free_workers_; ++i) {
    workers_.emplace_back([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lk(mu_);
          work_cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
          if (queue_.empty())
            return;  // stopping and nothing left
          job = std::move(queue_.front());
          queue_.erase(queue_.begin());
        }
        job();
      }
    });
  }
  dispatcher_ = std::thread([this] { dispatch_loop(); });
}

void LoopHost::run_one(const std::string& name, Task fn, uint64_t generation) {
  fn();
  std::lock_guard lock(mu_);
  finish(name, generation);
  ++free_workers_;
  --running_;
  cv_.notify_all();
}

void LoopHost::dispatch_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int64_t now = clock_.monotonic_ms();
    if (free_workers_ > 0) {
      if (auto picked = take_due(now)) {
        --free_workers_;
        ++running_;
        queue_.push_back(
            [this, name = picked->first, fn = picked->second->fn,
             generation = picked->second->generation] { run_one(name, fn, generation); });
        work_cv_.notify_one();
        continue;
      }
    }
    int64_t wait_ms = kMaxSleepMs;
    for (const auto& [name, e] : tasks_) {
      if (!e.running && e.due)
        wait_ms = std::min(wait_ms, std::max<int64_t>(0, *e.due - now));
    }
    if (free_workers_ == 0)
      wait_ms = kMaxSleepMs;  // a finishing task notifies
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, wait_ms)));
  }
}

void LoopHost::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_)
      return;
    stopping_ = true;
    queue_.clear();  // queued runs that never started are dropped
  }
  cv_.notify_all();
  work_cv_.notify_all();
  if (dispatcher_.joinable())
    dispatcher_.join();
  for (auto& w : workers_) {
    if (w.joinable())
      w.join();
  }
  std::lock_guard lock(mu_);
  workers_.clear();
  started_ = false;
}

}  // namespace lobster::sched
