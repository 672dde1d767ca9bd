// EventLoop: a single-threaded epoll loop with one-shot timers and a thread-safe post() queue.
// lobster-init runs everything (agent connections, child pipes, signals, restart timers) on one
// loop; worker threads (gateway RPC) hand results back through post().
//
//   auto loop = LOB_TRY(EventLoop::create());
//   LOB_TRY(loop->add(fd, EPOLLIN, [&](uint32_t ev) { ... }));
//   loop->add_timer(200, [&] { restart(); });
//   loop->run();  // until stop()
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::guest {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  static Result<std::unique_ptr<EventLoop>> create();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (not owned). The handler may add/remove any fd, including its own.
  Status add(int fd, uint32_t events, Handler handler);
  Status modify(int fd, uint32_t events);
  // Stops watching `fd`; pending events for it are dropped. Unknown fds are ignored.
  void remove(int fd);

  // Runs `cb` once after `delay_ms` (monotonic clock) on the loop thread.
  TimerId add_timer(int64_t delay_ms, std::function<void()> cb);
  void cancel_timer(TimerId id);

  // Thread-safe: runs `cb` on the loop thread soon.
  void post(std::function<void()> cb);

  // Processes events until stop(). Returns an error only if epoll_wait itself fails.
  Status run();
  // One iteration waiting at most `max_wait_ms` (-1 = until something happens).
  Status run_once(int max_wait_ms);
  void stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

  static int64_t now_ms();

 private:
  EventLoop(UniqueFd epoll_fd, UniqueFd wake_fd);
  void run_due_timers();
  void run_posted();
  int next_timeout(int max_wait_ms) const;

  struct Watch {
    int fd;
    std::shared_ptr<Handler> handler;
  };

  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  uint64_t next_key_ = 1;              // epoll data key; never reused
  std::map<uint64_t, Watch> watches_;  // key -> watch
  std::map<int, uint64_t> keys_by_fd_;
  TimerId next_timer_ = 1;
  std::multimap<int64_t, TimerId> timer_order_;  // due time -> id
  std::map<TimerId, std::pair<int64_t, std::function<void()>>> timers_;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  bool stopped_ = false;
};

}  // namespace lobster::guest
