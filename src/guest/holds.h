// HoldTable: suspend-inhibiting holds taken by host CLI commands (spec §9.6). Pure: the caller
// passes the current wall-clock time, so tests need no clock.
//
//   holds.acquire("uuid", 300'000, now);  // re-acquire refreshes the expiry
//   int n = holds.count(now);             // drops expired holds
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace lobster::guest {

class HoldTable {
 public:
  // Upper bound on distinct holds; a full table refuses new ids (a misbehaving host cannot grow
  // PID 1's memory without limit).
  static constexpr size_t kMaxHolds = 1024;

  // Sets holdId's expiry to now + ttl. False only if the table is full and the id is new.
  bool acquire(const std::string& hold_id, int64_t ttl_ms, int64_t now_ms);
  // True if the hold existed (expired or not).
  bool release(const std::string& hold_id);
  // Number of unexpired holds; expired ones are deleted.
  int count(int64_t now_ms);

 private:
  std::map<std::string, int64_t> expiry_;
};

}  // namespace lobster::guest
