// ApiClient: sends ApiRequests to one Firecracker process over its Unix API socket (HTTP/1.1,
// one connection per request, every read and write bounded by the client's deadline).
//
//   ApiClient api(chroot_root + "/api.socket");
//   LOB_TRY(api.call(put_machine_config(2, 1024), ErrorCode::kVmBootFailed));
//   auto info = LOB_TRY(api.call(describe_instance(), ErrorCode::kVmmFailed));
//
// Errors: a non-2xx answer -> the caller's `fault_code` with Firecracker's fault_message in the
// message ("Firecracker API PUT /drives/rootfs failed (400): <fault_message>") and the raw body
// as detail; connection failures -> kVmmFailed (sys_errno set); deadline -> kExecTimeout;
// a malformed reply -> kProtocolError.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "vmm/firecracker/http.h"
#include "vmm/firecracker/requests.h"

namespace lobster::vmm::firecracker {

class ApiClient {
 public:
  explicit ApiClient(std::string socket_path, int64_t timeout_ms = 10'000)
      : socket_path_(std::move(socket_path)), timeout_ms_(timeout_ms) {}

  const std::string& socket_path() const { return socket_path_; }

  // Sends one request and returns the response, whatever its status.
  Result<HttpResponse> send(const ApiRequest& request) const;

  // Sends and requires a 2xx. Returns the parsed JSON body (null for 204).
  Result<nlohmann::json> call(const ApiRequest& request, ErrorCode fault_code) const;

 private:
  std::string socket_path_;
  int64_t timeout_ms_;
};

// The message Firecracker put into an error body ({"fault_message": "..."}); the raw body if it
// is not that shape.
std::string fault_message_of(const std::string& body);

}  // namespace lobster::vmm::firecracker
