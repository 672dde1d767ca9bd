// The Store contract fixture (abseil tip #135: one suite, every implementation). Included by
// the store_contract_*_test.cc files, which instantiate it for SqliteStore and FakeStore.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/testing/matchers.h"
#include "store/sqlite_store.h"
#include "store/testing/fake_store.h"
#include "store/testing/temp_dir.h"

namespace lobster::store::testing {

using ::lobster::testing::IsOk;

struct SqliteImpl {
  TempDir dir;
  std::unique_ptr<Store> make(const Clock& clock) {
    auto s = SqliteStore::open(dir.path() + "/state.db", clock);
    EXPECT_THAT(s, IsOk());
    return s ? std::unique_ptr<Store>(std::move(*s)) : nullptr;
  }
};

struct FakeImpl {
  std::unique_ptr<Store> make(const Clock& clock) { return std::make_unique<FakeStore>(clock); }
};

template <typename Impl>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = impl_.make(clock_);
    ASSERT_NE(store_, nullptr);
  }

  NewTenant tenant(std::string name) {
    return NewTenant{.name = std::move(name),
                     .profile = "minimal",
                     .vcpus = 2,
                     .mem_mb = 1024,
                     .agent_token = "agent-secret-" + std::to_string(++serial_),
                     .gateway_token = "gateway-secret-" + std::to_string(serial_)};
  }
  Result<Tenant> create(std::string name) {
    return store_->create_tenant(tenant(std::move(name)), limits_, Actor::uid(0));
  }

  FakeClock clock_;
  Impl impl_;
  std::unique_ptr<Store> store_;
  AllocationLimits limits_{.max_subnet_index = 100, .uid_start = 10000, .uid_count = 1000};
  int serial_ = 0;
};

using StoreImpls = ::testing::Types<SqliteImpl, FakeImpl>;

}  // namespace lobster::store::testing
