#include "vmm/firecracker/api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "core/unique_fd.h"

namespace lobster::vmm::firecracker {
namespace {

using ::lobster::testing::HasError;
using ::testing::HasSubstr;

class ApiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/fcaXXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { (void)fs::remove_tree(dir_); }
  // A socket that accepts connections (in the backlog) but never answers.
  UniqueFd silent_listener(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX sockets.
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd.get(), 4), 0);
    return fd;
  }
  std::string dir_;
};

TEST_F(ApiClientTest, MissingSocketIsAVmmError) {
  ApiClient api(dir_ + "/none.socket", 1'000);
  auto r = api.call(describe_instance(), ErrorCode::kVmBootFailed);
  ASSERT_THAT(r, HasError(ErrorCode::kVmmFailed));
  EXPECT_THAT(r.error().message, HasSubstr("Firecracker API GET /: connect"));
  EXPECT_EQ(r.error().sys_errno, ENOENT);
}

TEST_F(ApiClientTest, SilentPeerHitsTheDeadline) {
  UniqueFd listener = silent_listener(dir_ + "/api.socket");
  ApiClient api(dir_ + "/api.socket", 50);
  auto r = api.call(instance_start(), ErrorCode::kVmBootFailed);
  ASSERT_THAT(r, HasError(ErrorCode::kExecTimeout));
  EXPECT_THAT(r.error().message, HasSubstr("PUT /actions"));
}

TEST(FaultMessageTest, ExtractsFirecrackersMessage) {
  EXPECT_EQ(fault_message_of(R"({"fault_message":"Invalid drive"})"), "Invalid drive");
  EXPECT_EQ(fault_message_of("plain text"), "plain text");
}

}  // namespace
}  // namespace lobster::vmm::firecracker
