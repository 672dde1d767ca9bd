// QMP (QEMU Machine Protocol) client over a Unix stream socket, event-aware.
//
// QEMU sends one JSON object per line: a greeting, replies ({"return"} / {"error"}) carrying
// the "id" of the command, and asynchronous events ({"event": "STOP", ...}) that may arrive at
// any moment, also between a command and its reply. execute() matches the reply by id and
// queues events; wait_event() consumes queued events first.
//
//   auto qmp = LOB_TRY(QmpClient::connect(run_dir + "/qmp.sock", 5000));
//   LOB_TRY(qmp.execute("stop"));
//   LOB_TRY(qmp.execute("getfd", {{"fdname", "snap"}}, 5000, file.get()));  // SCM_RIGHTS
//   auto ev = LOB_TRY(qmp.wait_event({"MIGRATION"}, 60000, [](const auto& e) { ... }));
#pragma once

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace lobster::vmm::qemu {

// Splits a byte stream into JSON messages (newline-delimited; "\r" ignored). Pure.
class QmpParser {
 public:
  // kProtocolError if a complete line is not a JSON object, or a line exceeds 16 MiB.
  Status feed(std::string_view bytes);
  std::optional<nlohmann::json> next();

 private:
  std::string buffer_;
  std::deque<nlohmann::json> ready_;
};

class QmpClient {
 public:
  using EventFilter = std::function<bool(const nlohmann::json&)>;

  // Connects to `path`, reads the greeting and negotiates capabilities. kVmmFailed if the
  // socket cannot be reached, kExecTimeout, kProtocolError.
  static Result<QmpClient> connect(const std::string& path, int64_t timeout_ms);
  // Same over an already connected stream socket (tests use a socketpair).
  static Result<QmpClient> over(UniqueFd fd, int64_t timeout_ms);

  // Runs `command` and returns its "return" value. `pass_fd` >= 0 is sent with the command as
  // SCM_RIGHTS (for getfd / add-fd). A QMP error reply -> kVmmFailed (message has its class
  // and desc); no reply in time -> kExecTimeout; connection closed -> kVmmFailed.
  Result<nlohmann::json> execute(const std::string& command,
                                 const nlohmann::json& arguments = nullptr,
                                 int64_t timeout_ms = 10000, int pass_fd = -1);

  // Returns the first event (queued or new) whose name is in `names` and that `filter`
  // accepts (no filter = any); earlier non-matching events stay queued. kExecTimeout.
  Result<nlohmann::json> wait_event(const std::vector<std::string>& names, int64_t timeout_ms,
                                    const EventFilter& filter = nullptr);

  // Events received so far and not consumed by wait_event (oldest first); clears the queue.
  std::vector<nlohmann::json> take_events();

 private:
  explicit QmpClient(UniqueFd fd) : fd_(std::move(fd)) {}
  // Reads at least one more message (or times out) into the parser; queues events.
  Result<nlohmann::json> read_message(int64_t deadline_ms);

  UniqueFd fd_;
  QmpParser parser_;
  std::deque<nlohmann::json> events_;
  int64_t next_id_ = 1;
};

}  // namespace lobster::vmm::qemu
