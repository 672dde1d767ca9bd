// AutonomyEnvTest: FakeEnvTest (in-memory store, links, firewall, VMM, proxy, loopback fake
// agent) plus the daemon's loops (Autonomy) on its FakeClock, driven through the LoopHost's
// test driver: no threads, no sleeps. Shared by the watchdog and scheduler unit tests.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/testing/matchers.h"
#include "sched/autonomy.h"
#include "tenant/spawn.h"
#include "tenant/testing/fake_env_test.h"

namespace lobster::sched::testing {

class AutonomyEnvTest : public tenant::testing::FakeEnvTest {
 protected:
  // Fast settings (1 s ticks and polls, no repair cooldown, 2 repair rounds), the tenants
  // spawned, the loops registered (first tick due at once).
  void set_up_fleet(const std::vector<std::string>& tenants) {
    env_.config.watchdog.interval_ms = 1000;
    env_.config.watchdog.traffic_poll_ms = 1000;
    env_.config.watchdog.repair_cooldown_ms = 0;
    env_.config.watchdog.max_repair_attempts = 2;
    for (const auto& name : tenants) {
      ASSERT_THAT(tenant::spawn(env_, {.name = name, .profile = "minimal"}, actor_, nullptr),
                  lobster::testing::IsOk());
    }
    start();
  }
  // (Re)starts the loops with the current env_ (a daemon restart), `activity` (not owned) or
  // the guest's view.
  void start(ActivitySource* activity = nullptr) {
    autonomy_.reset();
    service_ = std::make_unique<tenant::TenantService>(env_);
    autonomy_ = std::make_unique<Autonomy>(*service_, clock_, activity);
    autonomy_->register_tasks_for_test();
  }
  // Runs what is due now, then advances one second; n times.
  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      autonomy_->host().run_due_for_test();
      clock_.advance_ms(1000);
    }
  }
  store::Tenant get(const std::string& name) { return *store_.get_tenant(name); }
  void kill_vm(const std::string& name) {
    store::Tenant t = get(name);
    auto f = tenant::facts_for(env_, t);
    auto vm = tenant::attach_vm(env_, t, *f);
    ASSERT_THAT(vm, lobster::testing::IsOk());
    ASSERT_THAT((*vm)->stop(0), lobster::testing::IsOk());
  }
  // The daemon's audit events of `tenant`, newest first.
  std::vector<store::AuditEvent> events(const std::string& tenant) {
    std::vector<store::AuditEvent> out;
    auto all = store_.recent_audit(1000, tenant);
    for (const auto& e : *all) {
      if (e.actor == "daemon")
        out.push_back(e);
    }
    return out;
  }
  std::vector<std::string> audit_ops(const std::string& tenant) {
    std::vector<std::string> out;
    for (const auto& e : events(tenant)) out.push_back(e.operation);
    return out;
  }
  int count(const std::string& tenant, const std::string& op) {
    auto ops = audit_ops(tenant);
    return static_cast<int>(std::count(ops.begin(), ops.end(), op));
  }
  // "<outcome> <detail>" of the newest `op` event of `tenant` ("" if none).
  std::string detail(const std::string& tenant, const std::string& op) {
    for (const auto& e : events(tenant)) {
      if (e.operation == op)
        return e.outcome + " " + e.detail;
    }
    return "";
  }

  // Holds `tenant`'s operation lock (as operation `label`) on another thread until destroyed.
  class OpHolder {
   public:
    OpHolder(tenant::TenantService& service, const std::string& tenant, const std::string& label)
        : done_(std::async(std::launch::async, [&service, tenant, label, this] {
            return service.exclusive(
                tenant,
                [this](const tenant::Progress&) {
                  entered_.set_value();
                  release_.get_future().wait();
                  return 0;
                },
                label);
          })) {
      entered_.get_future().wait();
    }
    ~OpHolder() {
      release_.set_value();
      done_.get();
    }

   private:
    std::promise<void> entered_;
    std::promise<void> release_;
    std::future<int> done_;
  };

  std::unique_ptr<tenant::TenantService> service_;
  std::unique_ptr<Autonomy> autonomy_;
};

}  // namespace lobster::sched::testing
