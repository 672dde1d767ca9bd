#include "image/config_disk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/testing/matchers.h"

namespace lobster::image {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

ConfigDisk sample() {
  ConfigDisk c;
  c.hostname = "t1";
  c.agent_token = "agent-secret";
  c.gateway_token = "gw-secret";
  c.address = "10.0.0.6";
  c.prefix_length = 30;
  c.gateway = "10.0.0.5";
  c.dns = {"1.1.1.1", "9.9.9.9"};
  c.ssh_authorized_key = "ssh-ed25519 AAAAC3Nz lobsterd-t1";
  c.ssh_host_key = std::string("\x00\x00\x00\x0bssh-ed25519\xff\x01", 17);
  c.openclaw_config = {{"gateway", {{"bind", "custom"}}}};
  c.agent_port = 52;
  c.health_port = 53;
  c.host_time_ms = 1700000000000;
  return c;
}

TEST(ConfigDisk, LayoutIsMagicJsonNewlineZeroPadded) {
  auto raw = encode_config_disk(sample());
  ASSERT_THAT(raw, IsOk());
  EXPECT_EQ(raw->size() % 4096, 0u);
  EXPECT_TRUE(raw->starts_with("LOBSTERCFG1\n{"));
  const size_t nl = raw->find('\n', 12);
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(raw->find_first_not_of('\0', nl + 1), std::string::npos);
  const auto doc = nlohmann::json::parse(raw->substr(12, nl - 12));
  EXPECT_EQ(doc.at("version"), 1);
  EXPECT_EQ(doc.at("agentToken"), "agent-secret");
  EXPECT_EQ(doc.at("network").at("prefixLength"), 30);
  EXPECT_EQ(doc.at("ssh").at("hostKeyDropbear"), "AAAAC3NzaC1lZDI1NTE5/wE=");
  EXPECT_EQ(doc.at("hostTimeMs"), 1700000000000);
}

TEST(ConfigDisk, RoundTrip) {
  const ConfigDisk in = sample();
  auto raw = encode_config_disk(in);
  ASSERT_THAT(raw, IsOk());
  auto out = decode_config_disk(*raw);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->hostname, in.hostname);
  EXPECT_EQ(out->agent_token, in.agent_token);
  EXPECT_EQ(out->gateway_token, in.gateway_token);
  EXPECT_EQ(out->address, in.address);
  EXPECT_EQ(out->gateway, in.gateway);
  EXPECT_EQ(out->dns, in.dns);
  EXPECT_EQ(out->ssh_authorized_key, in.ssh_authorized_key);
  EXPECT_EQ(out->ssh_host_key, in.ssh_host_key);
  EXPECT_EQ(out->openclaw_config, in.openclaw_config);
  EXPECT_EQ(out->host_time_ms, in.host_time_ms);
}

TEST(ConfigDisk, NewlinesInValuesCannotBreakFraming) {
  ConfigDisk c = sample();
  c.hostname = "a\nb";
  c.openclaw_config = {{"note", "line1\nline2"}};
  auto raw = encode_config_disk(c);
  ASSERT_THAT(raw, IsOk());
  auto out = decode_config_disk(*raw);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->hostname, "a\nb");
}

TEST(ConfigDisk, RequiredFieldsAndLimits) {
  ConfigDisk c = sample();
  c.agent_token.clear();
  EXPECT_THAT(encode_config_disk(c), HasError(ErrorCode::kValidationFailed));
  c = sample();
  c.openclaw_config = {{"blob", std::string(5 << 20, 'x')}};
  EXPECT_THAT(encode_config_disk(c), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(decode_config_disk("LOBSTERCFG2\n{}\n"), HasError(ErrorCode::kConfigInvalid));
  EXPECT_THAT(decode_config_disk("LOBSTERCFG1\n{\"version\":1}"),
              HasError(ErrorCode::kConfigInvalid));
}

TEST(ConfigDisk, FileIsOwnerOnly) {
  char tmpl[] = "/tmp/lobster-cfgdisk-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/config.img";
  ASSERT_THAT(write_config_disk(path, sample()), IsOk());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto raw = fs::read_file(path);
  ASSERT_THAT(raw, IsOk());
  EXPECT_THAT(decode_config_disk(*raw), IsOk());
  (void)fs::remove_tree(tmpl);
}

}  // namespace
}  // namespace lobster::image
