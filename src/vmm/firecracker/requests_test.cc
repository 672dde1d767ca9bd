#include "vmm/firecracker/requests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/matchers.h"
#include "vmm/firecracker/testing/swagger_validator.h"

namespace lobster::vmm::firecracker {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;
using nlohmann::json;

RateLimiter disk_limit() {
  return RateLimiter{TokenBucket{52428800, 0, 1000}, TokenBucket{5000, 0, 1000}};
}

// Every request the driver can send, with every optional part both present and absent.
std::vector<ApiRequest> all_requests() {
  const RateLimiter net{TokenBucket{1250000, 0, 1000}, TokenBucket{1000, 0, 1000}};
  const RateLimiter bandwidth_only{TokenBucket{1000, 100, 10}, std::nullopt};
  return {
      put_machine_config(2, 1024),
      put_boot_source("/vmlinux", "", "console=ttyS0 reboot=k panic=1 pci=off"),
      put_boot_source("/vmlinux", "/initrd", "console=ttyS0"),
      put_drive("drive0", "/drive0.img", true, true, disk_limit()),
      put_drive("drive1", "/drive1.img", false, false, std::nullopt),
      put_drive("drive2", "/drive2.img", false, true, bandwidth_only),
      put_network_interface("eth0", "lt3", "", net, net),
      put_network_interface("eth0", "lt3", "06:00:0a:00:00:02", std::nullopt, std::nullopt),
      put_logger("/firecracker.log", "Info"),
      put_metrics("/metrics.json"),
      instance_start(),
      send_ctrl_alt_del(),
      flush_metrics(),
      patch_vm_state(true),
      patch_vm_state(false),
      snapshot_create("/snapshot_file", "/mem_file"),
      snapshot_load("/snapshot_file", "/mem_file", true, MemFileStyle::kMemBackend),
      snapshot_load("/snapshot_file", "/mem_file", false, MemFileStyle::kMemFilePath),
      snapshot_load("/snapshot_file", "/mem_file", true, MemFileStyle::kMemBackend, "eth0", "lt9"),
      describe_instance(),
      get_version(),
  };
}

class RequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = testing::SwaggerValidator::from_file(LOBSTER_FC_SWAGGER_PATH);
    ASSERT_THAT(v, IsOk());
    validator_.emplace(std::move(*v));
  }
  Status check(const ApiRequest& r) {
    return validator_->validate(r.method, r.path, r.body ? r.body->dump() : "");
  }
  std::optional<testing::SwaggerValidator> validator_;
};

TEST_F(RequestsTest, EveryRequestValidatesAgainstTheOfficialSwagger) {
  for (const ApiRequest& r : all_requests()) {
    EXPECT_THAT(check(r), IsOk()) << r.method << " " << r.path << " " << r.body->dump();
  }
}

TEST_F(RequestsTest, ADeliberatelyBrokenBodyIsRejected) {
  ApiRequest r = put_drive("drive0", "/drive0.img", true, true, disk_limit());
  (*r.body)["rate_limiter"]["ops"].erase("refill_time");
  EXPECT_THAT(check(r), HasError(ErrorCode::kValidationFailed));
  ApiRequest typo = patch_vm_state(true);
  (*typo.body)["state"] = "paused";
  EXPECT_THAT(check(typo), HasError(ErrorCode::kValidationFailed));
}

TEST(RequestBodiesTest, MatchTheSpec) {
  EXPECT_EQ(put_drive("rootfs", "/rootfs.ext4", true, true, disk_limit()).body,
            json::parse(R"({"drive_id":"rootfs","path_on_host":"/rootfs.ext4",
              "is_root_device":true,"is_read_only":true,"rate_limiter":{
              "bandwidth":{"size":52428800,"one_time_burst":0,"refill_time":1000},
              "ops":{"size":5000,"one_time_burst":0,"refill_time":1000}}})"));
  EXPECT_EQ(snapshot_load("/s", "/m", true, MemFileStyle::kMemBackend).body,
            json::parse(R"({"snapshot_path":"/s","resume_vm":true,
              "mem_backend":{"backend_type":"File","backend_path":"/m"}})"));
  EXPECT_EQ(snapshot_create("/s", "/m").body,
            json::parse(R"({"snapshot_type":"Full","snapshot_path":"/s","mem_file_path":"/m"})"));
  EXPECT_EQ(put_drive("rootfs", "/r", true, true, std::nullopt).path, "/drives/rootfs");
}

TEST(RequestBodiesTest, MemFileStyleFollowsTheVersion) {
  EXPECT_EQ(mem_file_style_for_version("1.17.0-dev"), MemFileStyle::kMemBackend);
  EXPECT_EQ(mem_file_style_for_version("v1.7.0"), MemFileStyle::kMemBackend);
  EXPECT_EQ(mem_file_style_for_version("0.25.2"), MemFileStyle::kMemFilePath);
  EXPECT_EQ(mem_file_style_for_version("garbage"), MemFileStyle::kMemBackend);
}

}  // namespace
}  // namespace lobster::vmm::firecracker
