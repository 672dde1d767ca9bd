#include "guest/holds.h"

namespace lobster::guest {

bool HoldTable::acquire(const std::string& hold_id, int64_t ttl_ms, int64_t now_ms) {
  auto it = expiry_.find(hold_id);
  if (it == expiry_.end()) {
    count(now_ms);  // make room by dropping expired holds first
    if (expiry_.size() >= kMaxHolds) {
      return false;
    }
  }
  expiry_[hold_id] = now_ms + ttl_ms;
  return true;
}

bool HoldTable::release(const std::string& hold_id) { return expiry_.erase(hold_id) > 0; }

int HoldTable::count(int64_t now_ms) {
  for (auto it = expiry_.begin(); it != expiry_.end();) {
    if (it->second <= now_ms) {
      it = expiry_.erase(it);
    } else {
      ++it;
    }
  }
  return static_cast<int>(expiry_.size());
}

}  // namespace lobster::guest
