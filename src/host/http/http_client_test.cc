#include "host/http/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "core/testing/matchers.h"
#include "core/unique_fd.h"

namespace lobster::http {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

TEST(HttpParseTest, ContentLength) {
  auto r = parse_response("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->headers.at("x-a"), "b");
}

TEST(HttpParseTest, Chunked) {
  auto r = parse_response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->body, "abcde");
}

TEST(HttpParseTest, Malformed) {
  EXPECT_THAT(parse_response("garbage"), HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
              HasError(ErrorCode::kProtocolError));
  EXPECT_THAT(parse_response("HTTP/1.1 abc OK\r\n\r\n"), HasError(ErrorCode::kProtocolError));
}

class UnixServer {
 public:
  explicit UnixServer(std::string reply, bool respond = true)
      : path_(::testing::TempDir() + "/http" + std::to_string(::getpid()) + ".sock") {
    ::unlink(path_.c_str());
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    // Kernel ABI: sockaddr_un is a sockaddr for bind(2).
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_.get(), 4), 0);
    thread_ = std::thread([this, reply = std::move(reply), respond] {
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      char buf[4096];
      std::string got;
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
        if (n <= 0)
          break;
        got.append(buf, static_cast<size_t>(n));
      }
      received_ = got;
      if (respond) {
        (void)::send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
      } else {
        ::recv(c.get(), buf, sizeof(buf), 0);  // block until the client gives up
      }
    });
  }
  ~UnixServer() {
    thread_.join();
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string received_;

 private:
  std::string path_;
  UniqueFd fd_;
  std::thread thread_;
};

TEST(HttpClientTest, RoundTripOverUnixSocket) {
  std::string received;
  {
    UnixServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    auto r = request_unix(server.path(), {.method = "POST", .target = "/load", .body = "{\"a\":1}"},
                          2000);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{}");
    // The server thread finished reading before it answered.
    received = server.received_;
  }
  EXPECT_THAT(received, ::testing::StartsWith("POST /load HTTP/1.1\r\nHost: \r\n"));
  EXPECT_THAT(received, ::testing::HasSubstr("Content-Length: 7\r\n"));
}

TEST(HttpClientTest, MissingSocketIsIoFailedWithErrno) {
  auto r = request_unix("/nonexistent/dir/x.sock", {}, 500);
  ASSERT_THAT(r, HasError(ErrorCode::kIoFailed));
  EXPECT_EQ(r.error().sys_errno, ENOENT);
}

TEST(HttpClientTest, SilentServerTimesOut) {
  UnixServer server("", /*respond=*/false);
  EXPECT_THAT(request_unix(server.path(), {}, 200), HasError(ErrorCode::kExecTimeout));
}

}  // namespace
}  // namespace lobster::http
