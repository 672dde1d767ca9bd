// Probe toolkit for the network isolation suite: tiny TCP listeners and connectors (C++
// sockets, timeouts, bounded loops; no nc) that run inside an endpoint.
//
// `Endpoint` is the "exec in guest" abstraction: anything that can run a TCP connect from
// inside itself. NetnsEndpoint (a network namespace, e.g. a veth "guest", the LAN host, the
// internet host, or the host itself) is the only implementation today; a VM-backed endpoint
// (exec through the agent) can replace it without touching the probe suite.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "host/net/testing/netns.h"

namespace lobster::e2e {

enum class Outcome { kConnected, kRefused, kTimeout, kUnreachable, kOther };
std::string_view outcome_name(Outcome o);

struct ProbeResult {
  Outcome outcome = Outcome::kOther;
  std::string peer_seen;  // the client address the listener reported ("" if none)
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual std::string name() const = 0;
  // Opens a TCP connection from inside the endpoint (as `uid`, 0 = root) to ip:port and
  // reads the listener's one-line greeting (the peer address it saw).
  virtual Result<ProbeResult> tcp_probe(const std::string& ip, uint16_t port, uid_t uid,
                                        int timeout_ms) = 0;
  // Starts a listener on 0.0.0.0:<ports> inside the endpoint that greets every client with
  // the client's address. Stays up until the endpoint is destroyed.
  virtual Status listen(const std::vector<uint16_t>& ports) = 0;
};

class NetnsEndpoint final : public Endpoint {
 public:
  static Result<std::unique_ptr<NetnsEndpoint>> create(std::string name);
  ~NetnsEndpoint() override;

  std::string name() const override { return name_; }
  Result<ProbeResult> tcp_probe(const std::string& ip, uint16_t port, uid_t uid,
                                int timeout_ms) override;
  Status listen(const std::vector<uint16_t>& ports) override;

  const net::testing::Netns& ns() const { return ns_; }

 private:
  NetnsEndpoint(std::string name, net::testing::Netns ns)
      : name_(std::move(name)), ns_(std::move(ns)) {}
  std::string name_;
  net::testing::Netns ns_;
  std::vector<pid_t> listeners_;  // children we started; killed and reaped by pid
};

// A connect/read from the calling thread's namespace (the test's "host"), as `uid`.
Result<ProbeResult> tcp_probe_here(const std::string& ip, uint16_t port, uid_t uid, int timeout_ms);

}  // namespace lobster::e2e
