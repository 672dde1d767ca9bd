#include "guest/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

#include <array>
#include <climits>

namespace lobster::guest {

namespace {
constexpr uint64_t kWakeKey = 0;
}  // namespace

int64_t EventLoop::now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return errno_error(ErrorCode::kInternal, "epoll_create1");
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) {
    return errno_error(ErrorCode::kInternal, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return errno_error(ErrorCode::kInternal, "epoll_ctl add eventfd");
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(ep), std::move(wake)));
}

EventLoop::EventLoop(UniqueFd epoll_fd, UniqueFd wake_fd)
    : epoll_fd_(std::move(epoll_fd)), wake_fd_(std::move(wake_fd)) {}

Status EventLoop::add(int fd, uint32_t events, Handler handler) {
  uint64_t key = next_key_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return errno_error(ErrorCode::kInternal, "epoll_ctl add fd " + std::to_string(fd));
  }
  watches_[key] = Watch{fd, std::make_shared<Handler>(std::move(handler))};
  keys_by_fd_[fd] = key;
  return ok();
}

Status EventLoop::modify(int fd, uint32_t events) {
  auto it = keys_by_fd_.find(fd);
  if (it == keys_by_fd_.end()) {
    return make_error(ErrorCode::kInternal, "epoll modify: fd {} not watched", fd);
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    return errno_error(ErrorCode::kInternal, "epoll_ctl mod fd " + std::to_string(fd));
  }
  return ok();
}

void EventLoop::remove(int fd) {
  auto it = keys_by_fd_.find(fd);
  if (it == keys_by_fd_.end()) {
    return;
  }
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it->second);
  keys_by_fd_.erase(it);
}

EventLoop::TimerId EventLoop::add_timer(int64_t delay_ms, std::function<void()> cb) {
  TimerId id = next_timer_++;
  int64_t due = now_ms() + (delay_ms < 0 ? 0 : delay_ms);
  timers_[id] = {due, std::move(cb)};
  timer_order_.emplace(due, id);
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) {
    return;
  }
  auto [lo, hi] = timer_order_.equal_range(it->second.first);
  for (auto o = lo; o != hi; ++o) {
    if (o->second == id) {
      timer_order_.erase(o);
      break;
    }
  }
  timers_.erase(it);
}

void EventLoop::post(std::function<void()> cb) {
  {
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(cb));
  }
  uint64_t one = 1;
  // A full eventfd counter still wakes the loop; the write result does not matter.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

int EventLoop::next_timeout(int max_wait_ms) const {
  if (timer_order_.empty()) {
    return max_wait_ms;
  }
  int64_t wait = timer_order_.begin()->first - now_ms();
  if (wait < 0) {
    wait = 0;
  }
  if (wait > INT_MAX) {
    wait = INT_MAX;
  }
  if (max_wait_ms >= 0 && wait > max_wait_ms) {
    return max_wait_ms;
  }
  return static_cast<int>(wait);
}

void EventLoop::run_due_timers() {
  int64_t now = now_ms();
  while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
    TimerId id = timer_order_.begin()->second;
    timer_order_.erase(timer_order_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) {
      continue;
    }
    auto cb = std::move(it->second.second);
    timers_.erase(it);
    cb();
  }
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(post_mu_);
    batch.swap(posted_);
  }
  for (auto& cb : batch) {
    cb();
  }
}

Status EventLoop::run_once(int max_wait_ms) {
  std::array<epoll_event, 64> events{};
  int n = ::epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()),
                       next_timeout(max_wait_ms));
  if (n < 0) {
    if (errno == EINTR) {
      return ok();
    }
    return errno_error(ErrorCode::kInternal, "epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    uint64_t key = events[static_cast<size_t>(i)].data.u64;
    if (key == kWakeKey) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_.get(), &count, sizeof(count));
      continue;
    }
    auto it = watches_.find(key);
    if (it == watches_.end()) {
      continue;  // removed by an earlier handler in this batch
    }
    // Keep the handler alive even if it removes itself.
    std::shared_ptr<Handler> h = it->second.handler;
    (*h)(events[static_cast<size_t>(i)].events);
  }
  run_posted();
  run_due_timers();
  return ok();
}

Status EventLoop::run() {
  while (!stopped_) {
    LOB_TRY(run_once(-1));
  }
  return ok();
}

}  // namespace lobster::guest
