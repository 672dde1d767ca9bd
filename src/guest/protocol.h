// Agent wire protocol (lobster-init <-> host agent client), framing layer.
//
// Transport: TCP to the guest IP, port 52 (agent, every method) or 53 (health, only
// `health-ping`). One request per connection (fixes spec §16 item 22):
//
//   client -> server   exactly ONE line: a JSON object terminated by '\n'
//                      {"token":"<agentToken>","type":"<method>", ...params}
//   server -> client   exactly ONE line: a JSON object terminated by '\n', then the server
//                      closes the connection.
//
// Response objects:
//   success  {"ok":true, ...method fields}       e.g. {"ok":true,"reply":"PONG"}
//   failure  {"error":"<message>"}               never has "ok":true
//
// Framing rules (server side):
//   - The request line (without its '\n') may be at most kMaxRequestBytes (1 MiB); a peer that
//     sends more without a newline gets {"error":"message too large"}.
//   - EOF (or half-close) before the newline    -> {"error":"incomplete request"}.
//   - Bytes after the first '\n' are ignored (never parsed, never answered).
//   - Not JSON / not an object                  -> {"error":"invalid json"} / "invalid request".
//   - Token missing, wrong, or the agent has no token configured -> {"error":"unauthorized"}
//     (constant-time comparison; the token is checked before the method name).
//   - No complete request within the read timeout (5 s) -> the connection is closed, no reply.
//
// Methods, their parameters and replies are listed in dispatch.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lobster::guest {

inline constexpr size_t kMaxRequestBytes = size_t{1} << 20;
inline constexpr int64_t kReadTimeoutMs = 5'000;
inline constexpr uint16_t kAgentPort = 52;
inline constexpr uint16_t kHealthPort = 53;

// Error strings that are part of the protocol (clients match on them).
inline constexpr std::string_view kErrTooLarge = "message too large";
inline constexpr std::string_view kErrIncomplete = "incomplete request";
inline constexpr std::string_view kErrInvalidJson = "invalid json";
inline constexpr std::string_view kErrInvalidRequest = "invalid request";
inline constexpr std::string_view kErrUnauthorized = "unauthorized";

// Accumulates the bytes of one connection until the request line is complete.
//
//   RequestFramer f;
//   switch (f.feed(chunk)) { case FrameState::kComplete: use(f.line()); ... }
class RequestFramer {
 public:
  enum class State {
    kNeedMore,    // no newline yet, under the cap
    kComplete,    // line() holds the request (without '\n'); later input is ignored
    kTooLarge,    // the cap was exceeded before a newline; later input is ignored
    kIncomplete,  // EOF arrived before a newline
  };

  explicit RequestFramer(size_t max_bytes = kMaxRequestBytes) : max_bytes_(max_bytes) {}

  // Appends received bytes. Once the state is final, further calls change nothing.
  State feed(std::string_view data);
  // The peer closed (or half-closed) its side.
  State feed_eof();

  State state() const { return state_; }
  bool done() const { return state_ != State::kNeedMore; }
  const std::string& line() const { return buffer_; }

 private:
  size_t max_bytes_;
  State state_ = State::kNeedMore;
  std::string buffer_;
};

// {"error": message} as one wire line (with '\n').
std::string error_line(std::string_view message);
// Serialises a reply object as one wire line. Invalid UTF-8 is replaced, never thrown.
std::string reply_line(const nlohmann::json& reply);
nlohmann::json error_reply(std::string_view message);

// Constant-time equality of two secrets: runtime depends only on the lengths, never on where
// the bytes differ. An empty `expected` never matches (fail closed).
bool token_equals(std::string_view expected, std::string_view given);

}  // namespace lobster::guest
