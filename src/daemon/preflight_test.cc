#include "daemon/preflight.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "store/testing/temp_dir.h"

namespace lobster::daemon {
namespace {

using ::lobster::testing::IsOk;

class PreflightTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.euid = 0;
    env_.os_name = "Linux";
    env_.sys_root = tmp_.path();
    env_.probe_kvm = [this](const std::string&) { return kvm_; };
    env_.find_executable = [this](const std::string& name) -> std::optional<std::string> {
      if (missing_ == name)
        return std::nullopt;
      return "/usr/bin/" + name;
    };
  }
  void write_sys(const std::string& rel, const std::string& value) {
    std::string path = tmp_.path() + rel;
    ASSERT_THAT(fs::ensure_dir(path.substr(0, path.rfind('/')), 0755), IsOk());
    ASSERT_THAT(fs::write_file_atomic(path, value, 0644), IsOk());
  }
  PreflightCheck find(const std::vector<PreflightCheck>& checks, const std::string& name) {
    for (const auto& c : checks) {
      if (c.name == name)
        return c;
    }
    ADD_FAILURE() << "no check " << name;
    return {};
  }

  store::testing::TempDir tmp_;
  PreflightEnv env_;
  KvmProbe kvm_{true, true, "ran"};
  std::string missing_;
  Config config_ = Config::defaults(Paths::under("/tmp/pf"));
};

TEST_F(PreflightTest, HealthyHostIsAllOk) {
  write_sys("/sys/devices/system/cpu/smt/active", "0\n");
  write_sys("/sys/kernel/mm/ksm/run", "0\n");
  auto checks = run_preflight(env_, config_);
  ASSERT_EQ(checks.size(), 8u);
  for (const auto& c : checks) EXPECT_EQ(c.status, CheckStatus::kOk) << c.name << c.message;
}

TEST_F(PreflightTest, NotRootAndNotLinuxFail) {
  env_.euid = 1000;
  env_.os_name = "Darwin";
  auto checks = run_preflight(env_, config_);
  EXPECT_EQ(find(checks, "root").status, CheckStatus::kFail);
  EXPECT_EQ(find(checks, "linux").status, CheckStatus::kFail);
  EXPECT_THAT(find(checks, "linux").message, ::testing::HasSubstr("Darwin"));
}

TEST_F(PreflightTest, UnusableKvmIsAWarningNamingTcg) {
  kvm_ = {true, false, "KVM_RUN failed"};
  PreflightCheck kvm = find(run_preflight(env_, config_), "kvm");
  EXPECT_EQ(kvm.status, CheckStatus::kWarn);
  EXPECT_THAT(kvm.message, ::testing::HasSubstr("present but unusable (KVM_RUN failed)"));
  EXPECT_THAT(kvm.message, ::testing::HasSubstr("TCG"));
  kvm_ = {false, false, "/dev/kvm does not exist"};
  EXPECT_EQ(find(run_preflight(env_, config_), "kvm").status, CheckStatus::kWarn);
}

TEST_F(PreflightTest, TheDriversFullGuestProbeOverridesTheQuickOne) {
  env_.kvm_probe_cache = tmp_.path() + "/kvm-probe.json";
  // No full probe yet: usable, with the caveat.
  PreflightCheck kvm = find(run_preflight(env_, config_), "kvm");
  EXPECT_EQ(kvm.status, CheckStatus::kOk);
  EXPECT_THAT(kvm.message, ::testing::HasSubstr("probe guest to confirm"));
  // A guest failed to boot under KVM: a warning naming TCG and the reason.
  ASSERT_THAT(fs::write_file_atomic(env_.kvm_probe_cache,
                                    R"({"kvmUsable": false, "reason": "KVM internal error"})"),
              IsOk());
  kvm = find(run_preflight(env_, config_), "kvm");
  EXPECT_EQ(kvm.status, CheckStatus::kWarn);
  EXPECT_THAT(kvm.message, ::testing::HasSubstr("KVM internal error"));
  EXPECT_THAT(kvm.message, ::testing::HasSubstr("TCG"));
  // A guest booted: plain ok.
  ASSERT_THAT(fs::write_file_atomic(env_.kvm_probe_cache, R"({"kvmUsable": true})"), IsOk());
  kvm = find(run_preflight(env_, config_), "kvm");
  EXPECT_EQ(kvm.status, CheckStatus::kOk);
  EXPECT_THAT(kvm.message, ::testing::Not(::testing::HasSubstr("confirm")));
}

TEST_F(PreflightTest, MissingBinariesFailWithThePackageName) {
  config_.vmm.qemu_binary = "qemu-system-x86_64";
  missing_ = "qemu-system-x86_64";
  PreflightCheck qemu = find(run_preflight(env_, config_), "qemu-system-x86_64");
  EXPECT_EQ(qemu.status, CheckStatus::kFail);
  EXPECT_THAT(qemu.message, ::testing::HasSubstr("qemu-system-x86"));
  missing_ = "caddy";
  config_.caddy.binary_path = "caddy";
  EXPECT_EQ(find(run_preflight(env_, config_), "caddy").status, CheckStatus::kFail);
  config_.caddy.external = true;
  EXPECT_EQ(find(run_preflight(env_, config_), "caddy").status, CheckStatus::kWarn);
}

TEST_F(PreflightTest, SmtAndKsmWarn) {
  write_sys("/sys/devices/system/cpu/smt/active", "1\n");
  write_sys("/sys/kernel/mm/ksm/run", "1\n");
  auto checks = run_preflight(env_, config_);
  EXPECT_EQ(find(checks, "smt").status, CheckStatus::kWarn);
  EXPECT_THAT(find(checks, "smt").message, ::testing::HasSubstr("nosmt"));
  EXPECT_EQ(find(checks, "ksm").status, CheckStatus::kWarn);
}

TEST_F(PreflightTest, JsonShape) {
  nlohmann::json j = preflight_to_json({{"kvm", CheckStatus::kWarn, "m"}});
  EXPECT_EQ(j, nlohmann::json::parse(R"([{"check":"kvm","status":"warn","message":"m"}])"));
}

}  // namespace
}  // namespace lobster::daemon
