// The Links contract, run against every implementation (abseil tip #135): FakeLinks in
// fake_links_test.cc (unit) and RtnlLinks inside a fresh network namespace in
// tests/e2e/net/rtnl_links_test.cc (e2e, root).
//
// Include this header in exactly one test file per binary and instantiate:
//   INSTANTIATE_TEST_SUITE_P(Fake, LinksContractTest, ::testing::Values(LinksFactory{...}));
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "core/testing/matchers.h"
#include "host/net/links.h"

namespace lobster::net::testing {

struct LinksFactory {
  std::string name;
  // Called in SetUp; may prepare an environment (namespace) and must return the Links to test.
  std::function<Result<std::unique_ptr<Links>>()> make;
  // Called in TearDown after the Links is destroyed.
  std::function<void()> cleanup = [] {};
  bool needs_root = false;
};

inline std::string PrintToString(const LinksFactory& f) { return f.name; }

class LinksContractTest : public ::testing::TestWithParam<LinksFactory> {
 protected:
  void SetUp() override;
  void TearDown() override {
    links_.reset();
    GetParam().cleanup();
  }
  TapSpec spec(uint32_t id, uint32_t index) const {
    Ipv4 base = parse_ipv4("10.0.0.0").value();
    Subnet s = subnet_for_index(base, index).value();
    return TapSpec{.name = tap_name(id),
                   .owner_uid = 10000 + id,
                   .owner_gid = 20000 + id,
                   .address = s.host,
                   .prefix = Subnet::kPrefix};
  }
  std::unique_ptr<Links> links_;
};

}  // namespace lobster::net::testing
