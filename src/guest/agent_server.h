// AgentServer: the agent's TCP listeners and connections on an EventLoop (protocol.h framing,
// dispatch.h methods). Non-blocking, single-threaded; many connections at once.
//
//   AgentServer server(*loop, dispatcher, {});
//   LOB_TRY(server.listen("10.0.0.6", kAgentPort, Port::kAgent));
//   LOB_TRY(server.listen("10.0.0.6", kHealthPort, Port::kHealth));
//
// Each connection: read until the request line completes (or cap / EOF / timeout), dispatch,
// write one reply line, shut down our side, drain the peer until it closes (so unread extra
// bytes never turn our close into an RST that would destroy the reply), close.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/unique_fd.h"
#include "guest/dispatch.h"
#include "guest/event_loop.h"
#include "guest/protocol.h"

namespace lobster::guest {

struct ServerOptions {
  size_t max_request_bytes = kMaxRequestBytes;
  int64_t read_timeout_ms = kReadTimeoutMs;  // also bounds the reply write and the drain
  size_t max_connections = 4096;             // further accepts are closed immediately
};

class AgentServer {
 public:
  AgentServer(EventLoop& loop, Dispatcher& dispatcher, ServerOptions options = {});
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  // Binds a numeric IPv4 address (port 0 = any free port) and starts accepting. Returns the
  // bound port. kNetworkFailed if the address cannot be bound.
  Result<uint16_t> listen(const std::string& ipv4, uint16_t port, Port kind);

  size_t connection_count() const { return conns_.size(); }

 private:
  struct Conn;
  void on_accept(int listen_fd, Port kind);
  void on_conn_event(uint64_t id, uint32_t events);
  void read_request(Conn& c);
  void start_reply(uint64_t id, std::string line);
  void flush(Conn& c);
  void drain(Conn& c);
  void close_conn(uint64_t id);

  EventLoop& loop_;
  Dispatcher& dispatcher_;
  ServerOptions options_;
  std::map<int, UniqueFd> listeners_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::shared_ptr<bool> alive_;  // lets late replies from worker threads detect destruction
};

}  // namespace lobster::guest
