// RpcWorker: runs blocking gateway RPC calls (openclaw_rpc.h) on one background thread so the
// agent's event loop never blocks. Jobs run in order; a bounded queue refuses work when the
// gateway is slow instead of piling up requests.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace lobster::guest {

class RpcWorker {
 public:
  static constexpr size_t kMaxQueued = 32;

  RpcWorker();
  ~RpcWorker();
  RpcWorker(const RpcWorker&) = delete;
  RpcWorker& operator=(const RpcWorker&) = delete;

  // Queues `job` (runs on the worker thread). False if the queue is full.
  bool submit(std::function<void()> job);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lobster::guest
