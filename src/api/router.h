// Router: maps "METHOD /path/{param}" to an endpoint handler and turns handler errors into the
// standard error reply (api/http_status.h). Transport-free, so endpoints are unit-tested
// without a socket.
//
// Each endpoint lives in its own file with a registration function (endpoints.h):
//
//   void register_health(Router& r, ApiContext& ctx) {
//     r.add("GET", "/v1/health", [&ctx](const Request&) -> Result<Response> {
//       return Response{200, {{"status", "ok"}}};
//     });
//   }
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace lobster::api {

// Credentials of the Unix-socket peer (SO_PEERCRED) at connect time.
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Request {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // target without the query string
  std::map<std::string, std::string> query;   // decoded ?a=b&c=d
  std::map<std::string, std::string> params;  // {name} segments of the matched pattern
  nlohmann::json body;                        // null when the request has no body
  Peer peer;
};

struct Response {
  unsigned status = 200;
  nlohmann::json body = nlohmann::json::object();
};

using Handler = std::function<Result<Response>(const Request&)>;

class Router {
 public:
  // Registers `pattern` ("/v1/tenants/{name}": literal segments and whole-segment params).
  // Registering the same method and pattern twice is a programming error (aborts).
  void add(std::string method, std::string pattern, Handler handler);

  // Finds the handler, fills request.params and runs it. An unknown path or method gives
  // 404 ROUTE_NOT_FOUND; a handler error gives http_status_for(code) with error_body().
  Response dispatch(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b?x=1&y=%20" into path and decoded query. Exposed for tests.
void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

// Reply for any error, in the standard shape.
Response error_response(const Error& error);

}  // namespace lobster::api
