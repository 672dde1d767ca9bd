#include "host/net/testing/fake_links.h"

#include "core/testing/matchers.h"
#include "host/net/testing/links_contract.h"

namespace lobster::net::testing {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

INSTANTIATE_TEST_SUITE_P(Fake, LinksContractTest,
                         ::testing::Values(LinksFactory{
                             .name = "FakeLinks",
                             .make = []() -> Result<std::unique_ptr<Links>> {
                               return std::make_unique<FakeLinks>();
                             }}),
                         [](const auto& p) { return p.param.name; });

TEST(FakeLinksTest, NameClashWithForeignLinkIsTapCreateFailed) {
  FakeLinks links;
  links.add_foreign_link_for_test("lt4", "veth");
  EXPECT_THAT(links.ensure_tap({.name = "lt4"}), HasError(ErrorCode::kTapCreateFailed));
}

TEST(FakeLinksTest, InjectedFailureHitsOnlyTheNextCall) {
  FakeLinks links;
  links.fail_next_for_test(Error{ErrorCode::kNetworkFailed, "boom"});
  EXPECT_THAT(links.ensure_tap({.name = "lt1"}), HasError(ErrorCode::kNetworkFailed));
  EXPECT_EQ(links.size(), 0U);
  EXPECT_THAT(links.ensure_tap({.name = "lt1"}), IsOk());
  EXPECT_EQ(links.size(), 1U);
}

}  // namespace
}  // namespace lobster::net::testing
