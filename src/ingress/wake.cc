// Wake-on-request: the connections waiting for one tenant share one Wake; only its thread
// talks to the daemon, so a burst of first requests causes exactly one resume.
#include <thread>

#include "core/log.h"
#include "ingress/counters.h"
#include "ingress/server.h"

namespace lobster::ingress {

struct IngressServer::Wake {
  bool done = false;
  Status result = ok();
  int64_t waiting = 0;
};

namespace {

Error wake_timeout(const std::string& tenant, int64_t timeout_ms) {
  return with_hint(
             Error{ErrorCode::kExecTimeout,
                   fmt::format("tenant \"{}\" did not wake within {} ms", tenant, timeout_ms)},
             "retry shortly; `lobsterd tank` shows the tenant's state")
      .error();
}

}  // namespace

Status IngressServer::await_active(const std::string& tenant, Counters& counters,
                                   int64_t deadline_ms) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto& slot = wakes_[tenant];
    if (!slot) {
      slot = std::make_shared<Wake>();
      try {
        std::thread([this, tenant, w = slot, &counters] {
          run_wake(tenant, w, counters);
        }).detach();
        ++threads_;
      } catch (const std::system_error&) {
        wakes_.erase(tenant);
        return make_error(ErrorCode::kResourceExhausted, "no thread left to wake \"{}\"", tenant);
      }
    }
    std::shared_ptr<Wake> w = slot;
    if (w->waiting >= options_.max_waiting_per_tenant) {
      return make_error(with_hint(Error{ErrorCode::kResourceExhausted,
                                        fmt::format("too many requests are waiting for tenant "
                                                    "\"{}\" to wake",
                                                    tenant)},
                                  "retry after the Retry-After delay")
                            .error());
    }
    ++w->waiting;
    ++counters.waiting_connections;
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(
                                                        0, deadline_ms - clock_.monotonic_ms()));
    cv_.wait_until(lock, until, [&] { return w->done || stopping_; });
    --w->waiting;
    --counters.waiting_connections;
    if (stopping_)
      return make_error(ErrorCode::kIngressUnavailable, "the ingress is stopping");
    if (!w->done || clock_.monotonic_ms() >= deadline_ms)
      return w->done ? w->result : make_error(wake_timeout(tenant, options_.wake_timeout_ms));
    // A wake that an earlier request started ran out of time before ours: start another.
    if (w->result || w->result.error().code != ErrorCode::kExecTimeout)
      return w->result;
  }
}

void IngressServer::run_wake(const std::string& tenant, std::shared_ptr<Wake> wake,
                             Counters& counters) {
  const int64_t deadline = clock_.monotonic_ms() + options_.wake_timeout_ms;
  Status result = make_error(wake_timeout(tenant, options_.wake_timeout_ms));
  bool asked = false;
  bool refused = false;
  int64_t daemon_down_logged = 0;
  while (!stopping_ && clock_.monotonic_ms() < deadline) {
    auto t = directory_.lookup(tenant);
    if (!t && t.error().code == ErrorCode::kTenantNotFound) {
      result = make_error(t.error());
      break;
    }
    if (t && t->status == store::TenantStatus::kActive) {
      result = ok();
      break;
    }
    if (t && t->status == store::TenantStatus::kSuspended && !asked) {
      int64_t left = deadline - clock_.monotonic_ms();
      Status s = waker_.resume(tenant, static_cast<int>(std::max<int64_t>(left, 1)));
      if (s) {
        asked = true;
        ++counters.wakes;
        log::info("ingress.woke", {{"tenant", tenant}});
        continue;
      }
      if (s.error().code == ErrorCode::kDaemonNotRunning) {
        if (daemon_down_logged++ == 0)
          log::warn("ingress.daemon_down", {{"tenant", tenant}});
      } else {
        log::warn("ingress.resume_failed", {{"tenant", tenant}, {"error", s.error().to_string()}});
        // A refusal can be a race with another resume: look once more, then give up.
        if (refused) {
          result = s;
          break;
        }
        refused = true;
      }
      if (!sleep_ms(std::min<int64_t>(250, deadline - clock_.monotonic_ms())))
        break;
      continue;
    }
    // creating / resuming / suspending (or a transient store error): watch it settle.
    if (!sleep_ms(std::min<int64_t>(100, deadline - clock_.monotonic_ms())))
      break;
  }
  std::lock_guard lock(mu_);
  wake->done = true;
  wake->result = result;
  wakes_.erase(tenant);
  --threads_;
  cv_.notify_all();
}

}  // namespace lobster::ingress
