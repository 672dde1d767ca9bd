// FakeEnvTest: a gtest fixture whose TenantEnv is wired to the in-memory fakes (store, links,
// firewall, VMM, proxy), a cgroupfs in a temp dir, the real process runner (ssh-keygen,
// dropbearkey) and a loopback stand-in for the guest agent. Shared by the spawn/evict and
// molt unit tests; derive, call FakeEnvTest::SetUp() first, then break one thing per test.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "agent/testing/fake_agent.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/testing/matchers.h"
#include "host/cgroup/cgroups.h"
#include "host/firewall/testing/fake_firewall.h"
#include "host/net/testing/fake_links.h"
#include "host/process/process.h"
#include "proxy/testing/fake_proxy.h"
#include "store/testing/fake_store.h"
#include "store/testing/temp_dir.h"
#include "tenant/env.h"
#include "vmm/testing/fake_vmm.h"

namespace lobster::tenant::testing {

class FakeEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    root_ = tmp_.path() + "/root";
    paths_ = Paths::under(root_);
    std::filesystem::create_directories(tmp_.path() + "/cgroup");
    std::ofstream(tmp_.path() + "/cgroup/cgroup.controllers") << "memory cpu pids\n";
    std::ofstream(tmp_.path() + "/cgroup/cgroup.subtree_control") << "";
    auto cg = cgroup::FsCgroups::create(tmp_.path() + "/cgroup", "lobsterd-test");
    ASSERT_THAT(cg, lobster::testing::IsOk());
    cgroups_ = std::move(*cg);

    env_.paths = paths_;
    env_.config = Config::defaults(paths_);
    env_.store = &store_;
    env_.links = &links_;
    env_.firewall = &firewall_;
    env_.cgroups = cgroups_.get();
    env_.vmm = &vmm_;
    env_.proxy = &proxy_;
    env_.runner = &runner_;
    env_.clock = &clock_;
    env_.image_for = [this](const std::string& profile) -> Result<GuestImage> {
      std::string d = paths_.image_dir(profile);
      return GuestImage{d + "/vmlinux", d + "/initramfs.cpio", d + "/rootfs.ext4"};
    };
    env_.create_overlay = [](const std::string& path, int64_t) {
      return fs::write_file_atomic(path, "overlay", 0600);
    };
    env_.agent_endpoint = [this](const std::string&) {
      return agent::Endpoint{"127.0.0.1", agent_.port(), agent_.port()};
    };
    env_.agent_wait_ms = 5'000;
  }

  // The fake cgroupfs directory that holds one sub-directory per VM.
  std::string cgroup_parent() const { return tmp_.path() + "/cgroup/lobsterd-test"; }

  store::testing::TempDir tmp_;
  std::string root_;
  Paths paths_;
  FakeClock clock_;
  store::FakeStore store_{clock_};
  net::testing::FakeLinks links_;
  firewall::testing::FakeFirewall firewall_;
  std::unique_ptr<cgroup::FsCgroups> cgroups_;
  vmm::testing::FakeVmmDriver vmm_;
  proxy::testing::FakeProxy proxy_;
  process::PosixProcessRunner runner_;
  agent::testing::FakeGuestAgent agent_;
  TenantEnv env_;
  store::Actor actor_ = store::Actor::uid(0);
};

}  // namespace lobster::tenant::testing
