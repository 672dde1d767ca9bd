#include "api/server.h"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "api/client.h"
#include "api/endpoints.h"
#include "core/fs.h"
#include "core/testing/matchers.h"
#include "host/http/http_client.h"
#include "store/testing/fake_store.h"
#include "store/testing/temp_dir.h"

namespace lobster::api {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

// The test process's primary group: the server authorizes it as if it were `lobsterd`, so the
// test passes as root and as an ordinary user.
std::string own_group() {
  group* g = ::getgrgid(::getgid());
  return g != nullptr ? g->gr_name : "root";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    ctx_.paths = Paths::under(tmp_.path());
    ctx_.config = Config::defaults(ctx_.paths);
    ctx_.store = &store_;
    ctx_.clock = &clock_;
    ctx_.daemon_pid = ::getpid();
    ctx_.started_monotonic_ms = clock_.monotonic_ms();
    ctx_.preflight = nlohmann::json::array({{{"check", "kvm"}, {"status", "warn"}}});
    register_all(router_, ctx_);
    router_.add("POST", "/v1/echo", [](const Request& r) -> Result<Response> {
      return Response{200, r.body};
    });
    router_.add("GET", "/v1/slow", [this](const Request&) -> Result<Response> {
      entered_ = true;
      release_.wait();
      return Response{200, {{"slow", true}}};
    });
    socket_ = tmp_.path() + "/api.sock";
    auto server = ApiServer::create(
        router_,
        {.socket_path = socket_, .group = own_group(), .body_limit = 1024, .stop_signals = {}});
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    thread_ = std::thread([this] { EXPECT_THAT(server_->run(), IsOk()); });
  }
  void TearDown() override {
    if (server_)
      server_->stop();
    if (thread_.joinable())
      thread_.join();
  }

  store::testing::TempDir tmp_;
  FakeClock clock_;
  store::FakeStore store_{clock_};
  ApiContext ctx_;
  Router router_;
  std::string socket_;
  std::unique_ptr<ApiServer> server_;
  std::thread thread_;
  std::promise<void> promise_;
  std::shared_future<void> release_ = promise_.get_future().share();
  bool released_ = false;
  std::atomic<bool> entered_ = false;
};

TEST_F(ServerTest, HealthAndStatus) {
  store::NewTenant t{.name = "alice",
                     .profile = "minimal",
                     .vcpus = 1,
                     .mem_mb = 256,
                     .agent_token = "a",
                     .gateway_token = "g"};
  ASSERT_THAT(store_.create_tenant(t, {.max_subnet_index = 10}, store::Actor::daemon()), IsOk());
  clock_.advance_ms(5'000);
  ApiClient client(socket_);
  auto health = client.get("/v1/health");
  ASSERT_THAT(health, IsOk());
  EXPECT_EQ((*health)["status"], "ok");
  EXPECT_EQ((*health)["uptime"], 5);
  EXPECT_EQ((*health)["tenantCount"], 1);
  auto status = client.get("/v1/status");
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ((*status)["pid"], ::getpid());
  EXPECT_EQ((*status)["version"], std::string(version()));
  EXPECT_EQ((*status)["root"], tmp_.path());
  EXPECT_EQ((*status)["tenants"], nlohmann::json::array({"alice"}));
  EXPECT_EQ((*status)["preflight"][0]["check"], "kvm");
}

TEST_F(ServerTest, SlowHandlerDoesNotBlockOtherRequests) {
  Result<nlohmann::json> slow = make_error(ErrorCode::kInternal, "not run");
  std::thread caller([&] { slow = ApiClient(socket_, 10'000).get("/v1/slow"); });
  // While /v1/slow is parked in its handler, other requests are still served.
  EXPECT_THAT(ApiClient(socket_, 3'000).get("/v1/health"), IsOk());
  promise_.set_value();
  released_ = true;
  caller.join();
  ASSERT_THAT(slow, IsOk());
  EXPECT_EQ((*slow)["slow"], true);
}

TEST(ServerCreateTest, OverlongSocketPathIsRefused) {
  Router router;
  auto server = ApiServer::create(router, {.socket_path = "/tmp/" + std::string(120, 'x')});
  ASSERT_THAT(server, HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(server.error().hint, ::testing::HasSubstr("--root"));
}

TEST_F(ServerTest, StopRefusesNewClientsButFinishesInFlightRequests) {
  Result<nlohmann::json> slow = make_error(ErrorCode::kInternal, "not run");
  std::thread caller([&] { slow = ApiClient(socket_, 10'000).get("/v1/slow"); });
  for (int i = 0; i < 5000 && !entered_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(entered_);
  server_->stop();
  for (int i = 0; i < 5000 && fs::exists(socket_); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_THAT(ApiClient(socket_).get("/v1/health"), HasError(ErrorCode::kDaemonNotRunning));
  promise_.set_value();
  released_ = true;
  caller.join();
  ASSERT_THAT(slow, IsOk());
  EXPECT_EQ((*slow)["slow"], true);
  thread_.join();
}

TEST_F(ServerTest, SocketIsGroupOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, ::getgid());
}

TEST_F(ServerTest, UnknownRouteComesBackAsError) {
  EXPECT_THAT(ApiClient(socket_).get("/v1/nothing"), HasError(ErrorCode::kRouteNotFound));
}

TEST_F(ServerTest, BodiesAreJsonAndBounded) {
  ApiClient client(socket_);
  auto echo = client.post("/v1/echo", {{"x", 1}});
  ASSERT_THAT(echo, IsOk());
  EXPECT_EQ((*echo)["x"], 1);

  http::Request bad{.method = "POST", .target = "/v1/echo", .host = "x", .body = "{nope"};
  auto reply = http::request_unix(socket_, bad, 5000);
  ASSERT_THAT(reply, IsOk());
  EXPECT_EQ(reply->status, 422);
  EXPECT_THAT(reply->body, ::testing::HasSubstr("VALIDATION_FAILED"));

  EXPECT_THAT(client.post("/v1/echo", {{"big", std::string(4096, 'x')}}),
              HasError(ErrorCode::kValidationFailed));
}

TEST_F(ServerTest, StopRemovesSocketAndClientSeesNoDaemon) {
  server_->stop();
  thread_.join();
  EXPECT_FALSE(fs::exists(socket_));
  EXPECT_THAT(ApiClient(socket_).get("/v1/health"), HasError(ErrorCode::kDaemonNotRunning));
}

}  // namespace
}  // namespace lobster::api
