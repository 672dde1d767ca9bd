// Rollback: an undo stack for multi-step operations (spawn, evict, suspend, resume, ...).
//
// After each successful step, push its undo. Call commit() when every step succeeded. If the
// Rollback is destroyed (or unwind() is called) without commit(), the undos run in reverse
// order; their failures are logged and never replace the error that caused the unwind.
//
//   Rollback rb("spawn alice");
//   LOB_TRY(links.create_tap(name));
//   rb.push("delete TAP", [&] { return links.delete_tap(name); });
//   ...
//   rb.commit();
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster {

class Rollback {
 public:
  using Undo = std::function<Status()>;

  explicit Rollback(std::string operation) : operation_(std::move(operation)) {}
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() { unwind(); }

  void push(std::string step, Undo undo) { steps_.push_back({std::move(step), std::move(undo)}); }
  void commit() { steps_.clear(); }
  size_t size() const { return steps_.size(); }

  // Runs the pending undos in reverse order. Returns how many undos failed.
  size_t unwind();

 private:
  struct Step {
    std::string name;
    Undo undo;
  };
  std::string operation_;
  std::vector<Step> steps_;
};

}  // namespace lobster
