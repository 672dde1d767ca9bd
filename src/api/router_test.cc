#include "api/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lobster::api {
namespace {

Request make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(RouterTest, DispatchesByMethodAndPathWithParams) {
  Router router;
  router.add("GET", "/v1/tenants/{name}", [](const Request& r) -> Result<Response> {
    return Response{200, {{"name", r.params.at("name")}}};
  });
  router.add("DELETE", "/v1/tenants/{name}", [](const Request&) -> Result<Response> {
    return Response{204, nullptr};
  });
  Request get = make("GET", "/v1/tenants/alice");
  Response r = router.dispatch(get);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body["name"], "alice");
  Request del = make("DELETE", "/v1/tenants/alice/");
  EXPECT_EQ(router.dispatch(del).status, 204u);
}

TEST(RouterTest, UnknownRouteIsStandard404) {
  Router router;
  router.add("GET", "/v1/health", [](const Request&) -> Result<Response> { return Response{}; });
  for (Request req : {make("GET", "/v1/nope"), make("POST", "/v1/health"), make("GET", "/")}) {
    Response r = router.dispatch(req);
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.body["code"], "ROUTE_NOT_FOUND");
    EXPECT_TRUE(r.body["message"].get<std::string>().find(req.path) != std::string::npos);
  }
}

TEST(RouterTest, HandlerErrorsUseTheMapping) {
  Router router;
  router.add("POST", "/v1/tenants", [](const Request&) -> Result<Response> {
    return make_error(ErrorCode::kTenantExists, "tenant 'a' exists");
  });
  Request req = make("POST", "/v1/tenants");
  Response r = router.dispatch(req);
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(r.body["code"], "TENANT_EXISTS");
  EXPECT_EQ(r.body["message"], "tenant 'a' exists");
}

TEST(RouterTest, SplitTargetDecodesQuery) {
  std::string path;
  std::map<std::string, std::string> query;
  split_target("/v1/logs?service=gate%20way&follow=1&flag&bad=%zz", path, query);
  EXPECT_EQ(path, "/v1/logs");
  EXPECT_EQ(query["service"], "gate way");
  EXPECT_EQ(query["follow"], "1");
  EXPECT_EQ(query["flag"], "");
  EXPECT_EQ(query["bad"], "%zz");
}

TEST(RouterDeathTest, DuplicateRouteAborts) {
  Router router;
  router.add("GET", "/v1/x", [](const Request&) -> Result<Response> { return Response{}; });
  EXPECT_DEATH(
      router.add("GET", "/v1/x", [](const Request&) -> Result<Response> { return Response{}; }),
      "");
}

}  // namespace
}  // namespace lobster::api
