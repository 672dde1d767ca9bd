// Test helpers for network namespaces: a namespace owned by an fd (no `ip netns` bind mounts,
// so nothing is left behind when the test exits), and a guard that moves the calling thread
// into it. Netlink sockets, /dev/net/tun, /proc/sys/net and children spawned by this thread
// then all act inside that namespace.
//
//   auto ns = LOB_TRY(Netns::create());       // loopback up
//   { auto in = LOB_TRY(NetnsGuard::enter(ns)); /* everything here runs inside */ }
#pragma once

#include <string>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::net::testing {

class Netns {
 public:
  // A fresh network namespace with `lo` up. Needs CAP_SYS_ADMIN. kNetworkFailed.
  static Result<Netns> create();
  int fd() const { return fd_.get(); }
  // A path other processes (e.g. `ip link set X netns PATH`) can open while we live.
  std::string path() const;

 private:
  explicit Netns(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

class NetnsGuard {
 public:
  // Moves the calling thread into `ns` until the guard is destroyed.
  static Result<NetnsGuard> enter(const Netns& ns);
  NetnsGuard(NetnsGuard&& o) noexcept = default;
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;
};

// Root is needed for namespaces, TAPs and iptables. Outside CI a test may skip; with CI=true a
// missing capability is a failure (common brief).
bool running_in_ci();

}  // namespace lobster::net::testing

// Use at the top of a root-only test body.
#define LOBSTER_REQUIRE_ROOT()                                    \
  do {                                                            \
    if (::geteuid() != 0) {                                       \
      if (::lobster::net::testing::running_in_ci()) {             \
        FAIL() << "this test needs root (CI=true: not skipping)"; \
      }                                                           \
      GTEST_SKIP() << "needs root";                               \
    }                                                             \
  } while (false)
