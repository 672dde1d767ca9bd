#include "ingress/response.h"

#include "api/http_status.h"

namespace lobster::ingress {
namespace {

std::string reason_for(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string error_response(unsigned status, const Error& e, int64_t retry_after_s) {
  std::string body = dump(api::error_body(e));
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n";
  if (retry_after_s > 0)
    head += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  return head + "\r\n" + body;
}

std::string json_response(const nlohmann::json& j) {
  std::string body = dump(j);
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace lobster::ingress
