#include "guest/protocol.h"

namespace lobster::guest {

RequestFramer::State RequestFramer::feed(std::string_view data) {
  if (done()) {
    return state_;
  }
  size_t nl = data.find('\n');
  std::string_view take = nl == std::string_view::npos ? data : data.substr(0, nl);
  if (buffer_.size() + take.size() > max_bytes_) {
    buffer_.clear();
    buffer_.shrink_to_fit();
    state_ = State::kTooLarge;
    return state_;
  }
  buffer_.append(take);
  if (nl != std::string_view::npos) {
    state_ = State::kComplete;
  }
  return state_;
}

RequestFramer::State RequestFramer::feed_eof() {
  if (!done()) {
    state_ = State::kIncomplete;
  }
  return state_;
}

nlohmann::json error_reply(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}};
}

std::string reply_line(const nlohmann::json& reply) {
  std::string out = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\n');
  return out;
}

std::string error_line(std::string_view message) { return reply_line(error_reply(message)); }

bool token_equals(std::string_view expected, std::string_view given) {
  // Compare over the given length so the loop never reads out of bounds; mismatched lengths
  // are folded into the accumulator instead of returning early.
  unsigned char diff = expected.size() == given.size() ? 0 : 1;
  if (expected.empty()) {
    diff = 1;
  }
  for (size_t i = 0; i < given.size(); ++i) {
    auto e = static_cast<unsigned char>(expected.empty() ? 0 : expected[i % expected.size()]);
    diff = static_cast<unsigned char>(diff | (e ^ static_cast<unsigned char>(given[i])));
  }
  // Keep the compiler from short-circuiting the loop.
  volatile unsigned char sink = diff;
  return sink == 0;
}

}  // namespace lobster::guest
