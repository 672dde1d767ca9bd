// FakeStore: an in-memory Store with the same contract as SqliteStore (store_contract_test.cc
// runs both), for unit tests of the tenant lifecycle, API and scheduler.
//
//   FakeClock clock;
//   store::FakeStore store(clock);
//   auto t = store.create_tenant(new_tenant, limits, store::Actor::daemon());
//   store.fail_next_write_for_test();  // the next write returns kStoreFailed, changes nothing
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "store/store.h"

namespace lobster::store {

class FakeStore final : public Store {
 public:
  // `clock` must outlive the store.
  explicit FakeStore(const Clock& clock) : clock_(clock) {}

  Result<Tenant> create_tenant(const NewTenant& tenant, const AllocationLimits& limits,
                               const Actor& actor) override;
  Result<Tenant> get_tenant(std::string_view name) override;
  Result<std::vector<Tenant>> list_tenants() override;
  Result<Tenant> update_tenant(std::string_view name, const TenantUpdate& update,
                               const Actor& actor) override;
  Status delete_tenant(std::string_view name, const std::vector<TenantStatus>& expect_status,
                       const Actor& actor) override;
  Status put_hold(const Hold& hold, const Actor& actor) override;
  Result<bool> release_hold(std::string_view tenant, std::string_view hold_id,
                            const Actor& actor) override;
  Result<std::vector<Hold>> list_holds(std::string_view tenant) override;
  Result<int64_t> prune_expired_holds(const Actor& actor) override;
  Result<int64_t> append_audit(const AuditEvent& event) override;
  Result<std::vector<AuditEvent>> recent_audit(int64_t limit, std::string_view tenant) override;
  Result<int64_t> prune_audit(int64_t keep_latest, const Actor& actor) override;

  // The next state-changing call fails with kStoreFailed and changes nothing (not audited, as
  // a real database error would prevent the audit row too).
  void fail_next_write_for_test();

 private:
  // Runs `body` on the state under mu_; the state is restored if `body` fails, and refusals
  // are audited like SqliteStore does.
  Status write(const Actor& actor, std::string_view operation, std::string_view tenant,
               const std::function<Status()>& body);
  void audit(const Actor& actor, std::string_view operation, std::string_view tenant,
             std::string outcome, std::string detail);

  struct State {
    std::map<std::string, Tenant, std::less<>> tenants;
    // (tenant name, hold id) -> expires_at_ms.
    std::map<std::pair<std::string, std::string>, int64_t> holds;
    std::vector<AuditEvent> audit;
    int64_t next_tenant_id = 1;
  };

  const Clock& clock_;
  std::mutex mu_;
  State state_;
  bool fail_next_write_ = false;
};

}  // namespace lobster::store
