#include "host/net/testing/links_contract.h"

#include <unistd.h>

#include "host/net/testing/netns.h"

namespace lobster::net::testing {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

}  // namespace

void LinksContractTest::SetUp() {
  if (GetParam().needs_root) {
    LOBSTER_REQUIRE_ROOT();
  }
  auto made = GetParam().make();
  ASSERT_THAT(made, IsOk());
  links_ = std::move(*made);
}

TEST_P(LinksContractTest, EnsureTapCreatesOwnedAddressedUpTap) {
  TapSpec s = spec(7, 1);
  auto r = links_->ensure_tap(s);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->created);
  EXPECT_TRUE(r->changed);
  auto l = links_->get_link("lt7");
  ASSERT_THAT(l, IsOk());
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->name, "lt7");
  EXPECT_EQ((*l)->kind, "tun");
  EXPECT_TRUE((*l)->up);
  EXPECT_EQ((*l)->tun_owner, std::optional<uid_t>(10007));
  EXPECT_EQ((*l)->tun_group, std::optional<gid_t>(20007));
  ASSERT_EQ((*l)->addresses.size(), 1U);
  EXPECT_EQ((*l)->addresses[0].first.to_string(), "10.0.0.5");
  EXPECT_EQ((*l)->addresses[0].second, 30);
}

TEST_P(LinksContractTest, EnsureTapIsIdempotent) {
  ASSERT_THAT(links_->ensure_tap(spec(7, 1)), IsOk());
  auto before = links_->get_link("lt7");
  auto again = links_->ensure_tap(spec(7, 1));
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(links_->get_link("lt7").value(), before.value());
}

TEST_P(LinksContractTest, EnsureTapRepairsOwnerAndAddress) {
  ASSERT_THAT(links_->ensure_tap(spec(7, 1)), IsOk());
  TapSpec moved = spec(7, 2);
  moved.owner_uid = 30000;
  auto r = links_->ensure_tap(moved);
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->created);
  EXPECT_TRUE(r->changed);
  auto l = links_->get_link("lt7").value();
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->tun_owner, std::optional<uid_t>(30000));
  ASSERT_EQ(l->addresses.size(), 1U);  // replaced, not added
  EXPECT_EQ(l->addresses[0].first.to_string(), "10.0.0.9");
}

TEST_P(LinksContractTest, DeleteIsIdempotent) {
  ASSERT_THAT(links_->ensure_tap(spec(3, 1)), IsOk());
  auto d = links_->delete_link("lt3");
  ASSERT_THAT(d, IsOk());
  EXPECT_TRUE(*d);
  auto again = links_->delete_link("lt3");
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(*again);
  auto l = links_->get_link("lt3");
  ASSERT_THAT(l, IsOk());
  EXPECT_FALSE(l->has_value());
}

TEST_P(LinksContractTest, ListFiltersByPrefixInNameOrder) {
  for (uint32_t id : {12U, 2U, 5U}) {
    ASSERT_THAT(links_->ensure_tap(spec(id, id)), IsOk());
  }
  auto all = links_->list_links("lt");
  ASSERT_THAT(all, IsOk());
  std::vector<std::string> names;
  for (const auto& l : *all) {
    names.push_back(l.name);
  }
  EXPECT_THAT(names, ::testing::ElementsAre("lt12", "lt2", "lt5"));
  ASSERT_EQ((*all)[2].addresses.size(), 1U);
  EXPECT_EQ((*all)[2].addresses[0].first.to_string(), "10.0.0.21");
  auto none = links_->list_links("zz");
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_P(LinksContractTest, RejectsInvalidNames) {
  TapSpec s = spec(1, 1);
  s.name = "this-name-is-too-long";
  EXPECT_THAT(links_->ensure_tap(s), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(links_->delete_link("a/b"), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(links_->get_link(""), HasError(ErrorCode::kValidationFailed));
}

}  // namespace lobster::net::testing
