// RtnlLinks against the real kernel, inside a network namespace created per test (the TAPs die
// with it): the shared Links contract, per-device sysctls, and 200 TAPs without a leak.
#include "host/net/rtnl_links.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "core/testing/matchers.h"
#include "host/net/sysctl.h"
#include "host/net/testing/links_contract.h"
#include "host/net/testing/netns.h"

namespace lobster::net::testing {
namespace {

using ::lobster::testing::IsOk;

// The namespace the current test runs in; the calling (gtest main) thread stays inside it
// until cleanup.
struct NsState {
  std::optional<Netns> ns;
  std::optional<NetnsGuard> guard;
};
NsState& ns_state() {
  static NsState s;
  return s;
}

Result<std::unique_ptr<Links>> make_rtnl() {
  auto& s = ns_state();
  s.ns.emplace(LOB_TRY(Netns::create()));
  s.guard.emplace(LOB_TRY(NetnsGuard::enter(*s.ns)));
  RtnlLinks links = LOB_TRY(RtnlLinks::create());
  return std::unique_ptr<Links>(std::make_unique<RtnlLinks>(std::move(links)));
}

void cleanup_rtnl() {
  auto& s = ns_state();
  s.guard.reset();
  s.ns.reset();
}

INSTANTIATE_TEST_SUITE_P(
    Real, LinksContractTest,
    ::testing::Values(LinksFactory{
        .name = "RtnlLinks", .make = make_rtnl, .cleanup = cleanup_rtnl, .needs_root = true}),
    [](const auto& p) { return p.param.name; });

class RtnlLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOBSTER_REQUIRE_ROOT();
    auto l = make_rtnl();
    ASSERT_THAT(l, IsOk());
    links_ = std::move(*l);
  }
  void TearDown() override {
    links_.reset();
    cleanup_rtnl();
  }
  std::unique_ptr<Links> links_;
};

TEST_F(RtnlLinksTest, TapHasIpv6OffAndStrictRpFilter) {
  auto base = parse_ipv4("10.0.0.0").value();
  TapSpec s{.name = "lt1",
            .owner_uid = 10001,
            .owner_gid = 10001,
            .address = subnet_for_index(base, 1)->host};
  ASSERT_THAT(links_->ensure_tap(s), IsOk());
  EXPECT_EQ(read_sysctl("/proc/sys", "net/ipv6/conf/lt1/disable_ipv6").value(), "1");
  EXPECT_EQ(read_sysctl("/proc/sys", "net/ipv4/conf/lt1/rp_filter").value(), "1");
}

TEST_F(RtnlLinksTest, OwnerCanAttachWithoutPrivileges) {
  TapSpec s{.name = "lt9",
            .owner_uid = 65534,
            .owner_gid = 65534,
            .address = parse_ipv4("10.0.0.37").value()};
  ASSERT_THAT(links_->ensure_tap(s), IsOk());
  // A child that dropped to the owner uid (as the jailed VMM does) opens the TAP; another uid
  // cannot.
  auto attach_as = [](uid_t uid) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgid(uid) != 0 || ::setuid(uid) != 0) {
        ::_exit(3);
      }
      int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        ::_exit(4);
      }
      ifreq ifr{};
      std::memcpy(ifr.ifr_name, "lt9", 4);
      ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
      ::_exit(::ioctl(fd, TUNSETIFF, &ifr) == 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(attach_as(65534), 0);
  EXPECT_EQ(attach_as(65533), 1);
}

TEST_F(RtnlLinksTest, TwoHundredTapsCreatedAndRemovedWithoutLeak) {
  auto base = parse_ipv4("10.0.0.0").value();
  auto before = links_->list_links("");
  ASSERT_THAT(before, IsOk());
  for (uint32_t id = 1; id <= 200; ++id) {
    TapSpec s{.name = tap_name(id),
              .owner_uid = 10000 + id,
              .owner_gid = 10000 + id,
              .address = subnet_for_index(base, id)->host};
    auto r = links_->ensure_tap(s);
    ASSERT_THAT(r, IsOk()) << id;
    ASSERT_TRUE(r->created);
  }
  auto during = links_->list_links(kTapPrefix);
  ASSERT_THAT(during, IsOk());
  EXPECT_EQ(during->size(), 200U);
  for (uint32_t id = 1; id <= 200; ++id) {
    auto d = links_->delete_link(tap_name(id));
    ASSERT_THAT(d, IsOk());
    ASSERT_TRUE(*d);
  }
  auto after = links_->list_links("");
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(*after, *before);  // same links (only lo), same addresses
  // Each sysctl directory went away with its device.
  EXPECT_THAT(read_sysctl("/proc/sys", "net/ipv6/conf/lt200/disable_ipv6"),
              ::lobster::testing::HasError(ErrorCode::kNetworkFailed));
}

}  // namespace
}  // namespace lobster::net::testing
