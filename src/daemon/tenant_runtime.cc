#include "daemon/tenant_runtime.h"

#include <sys/prctl.h>

#include <cstdlib>
#include <mutex>

#include "core/fs.h"
#include "core/log.h"
#include "daemon/front_door.h"
#include "host/cgroup/cgroups.h"
#include "host/firewall/iptables_firewall.h"
#include "host/firewall/tenant_network.h"
#include "host/net/rtnl_links.h"
#include "image/overlay.h"
#include "tenant/recover.h"
#include "tenant/spawn.h"
#include "vmm/firecracker/driver.h"
#include "vmm/firecracker/jailer_args.h"
#include "vmm/qemu/qemu_driver.h"

namespace lobster::daemon {
namespace {

// Test-only failure injection (tests/e2e/crash): LOBSTERD_TEST_FAIL_STEP=<spawn step> makes
// every spawn fail right after that step took effect. Read once at start and logged loudly,
// so a production daemon started with it by mistake says so in its log.
std::string fail_step_for_test() {
  const char* v = std::getenv("LOBSTERD_TEST_FAIL_STEP");  // NOLINT(concurrency-mt-unsafe)
  if (v == nullptr || *v == '\0')
    return "";
  std::string step = v;
  if (!tenant::is_spawn_step(step)) {
    log::error("daemon.test_fail_step_unknown",
               {{"LOBSTERD_TEST_FAIL_STEP", step}, {"known", tenant::kSpawnSteps}});
    return "";
  }
  log::warn(
      "daemon.TEST_ONLY_FAILURE_INJECTION",
      {{"LOBSTERD_TEST_FAIL_STEP", step},
       {"effect", "every spawn fails after step " + step + "; never set this in production"}});
  return step;
}

std::string probe_kernel(const Paths& paths) {
  for (const char* profile : {"minimal", "openclaw"}) {
    std::string k = paths.image_dir(profile) + "/vmlinux";
    if (fs::exists(k))
      return k;
  }
  return "";
}

}  // namespace

struct TenantRuntime::Parts {
  Paths paths;
  Config config;
  SystemClock clock;
  process::PosixProcessRunner runner;
  std::optional<net::RtnlLinks> links;
  std::unique_ptr<firewall::IptablesFirewall> firewall;
  std::unique_ptr<cgroup::FsCgroups> cgroups;
  std::unique_ptr<vmm::VmmDriver> vmm;
  std::unique_ptr<FrontDoor> proxy;
};

TenantRuntime::TenantRuntime(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
TenantRuntime::~TenantRuntime() = default;

Result<std::unique_ptr<TenantRuntime>> TenantRuntime::create(const Paths& paths,
                                                             const Config& config,
                                                             store::Store& store) {
  // VMMs run in their own pid namespaces; when their namespace's init exits the orphan is
  // re-parented to us, so we must reap it (PID 1 here may not).
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto parts = std::make_unique<Parts>();
  parts->paths = paths;
  parts->config = config;
  auto links = net::RtnlLinks::create();
  if (!links)
    return make_error(links.error());
  parts->links.emplace(std::move(*links));
  firewall::IptablesSettings fw;
  fw.backend = LOB_TRY(firewall::detect_backend(parts->runner));
  fw.options = firewall::options_from_config(config);
  fw.ip_forward_record = paths.data_dir + "/ip_forward.prior";
  parts->firewall = std::make_unique<firewall::IptablesFirewall>(parts->runner, fw);
  parts->cgroups =
      LOB_TRY(cgroup::FsCgroups::create("/sys/fs/cgroup", cgroup::parent_name_for(paths.root)));
  auto probe = std::make_shared<vmm::qemu::KvmProbe>(config.vmm.qemu_binary, probe_kernel(paths),
                                                     paths.run_dir, parts->runner);
  VmmDriverKind kind = LOB_TRY(vmm::choose_driver(config, *probe));
  if (kind == VmmDriverKind::kFirecracker) {
    parts->vmm = LOB_TRY(vmm::firecracker::FirecrackerDriver::create(
        {.jailer_path = config.jailer.binary_path,
         .firecracker_path = config.firecracker.binary_path,
         .parent_cgroup = cgroup::parent_name_for(paths.root)}));
  } else {
    parts->vmm = std::make_unique<vmm::qemu::QemuDriver>(
        vmm::qemu::QemuOptions{.binary = config.vmm.qemu_binary}, probe, *parts->cgroups,
        parts->runner);
  }
  parts->proxy = std::make_unique<FrontDoor>(paths, config);

  tenant::TenantEnv env;
  env.paths = paths;
  env.config = config;
  env.store = &store;
  env.links = &*parts->links;
  env.firewall = parts->firewall.get();
  env.cgroups = parts->cgroups.get();
  env.vmm = parts->vmm.get();
  env.proxy = parts->proxy.get();
  env.runner = &parts->runner;
  env.clock = &parts->clock;
  env.image_for = tenant::verified_images(paths.images_dir());
  process::ProcessRunner* runner = &parts->runner;
  env.create_overlay = [runner](const std::string& path, int64_t size_mb) {
    return image::create_overlay(*runner, path, static_cast<uint64_t>(size_mb));
  };
  env.fail_after_step_for_test = fail_step_for_test();
  std::unique_ptr<TenantRuntime> rt(new TenantRuntime(std::move(parts)));
  rt->service_ = std::make_unique<tenant::TenantService>(std::move(env));
  log::info("daemon.tenant_runtime",
            {{"vmm", rt->parts_->vmm->name()},
             {"firewall_backend", fw.backend == firewall::Backend::kNft ? "nft" : "legacy"}});
  return rt;
}

Result<std::vector<std::string>> TenantRuntime::reconcile() {
  tenant::TenantEnv& env = service_->env();
  auto report = LOB_TRY(tenant::recover(env));
  auto tenants = LOB_TRY(env.store->list_tenants());
  std::vector<firewall::TenantNetworkSpec> nets;
  std::map<uint32_t, std::string> by_tap;
  std::vector<std::string> recreated;
  for (const auto& t : tenants) {
    auto f = tenant::facts_for(env, t);
    if (!f)
      continue;
    nets.push_back(
        {f->net, static_cast<uid_t>(t.alloc.jail_uid), static_cast<gid_t>(t.alloc.jail_uid)});
    by_tap[f->net.tap_id] = t.name;
  }
  if (!tenants.empty() || !report.removed.empty()) {
    auto net = LOB_TRY(firewall::reconcile_network(*env.links, *env.firewall, nets));
    for (uint32_t id : net.recreated_taps) {
      if (by_tap.contains(id))
        recreated.push_back(by_tap[id]);
    }
    if (!net.recreated_taps.empty()) {
      // A VMM still holds the old TAP's fd: its guest is cut off until it is restarted. The
      // watchdog restarts it (Watchdog::tap_recreated); make it visible meanwhile.
      log::warn("reconcile.taps_recreated",
                {{"tap_ids", net.recreated_taps}, {"tenants", recreated}});
    }
  }
  if (!tenants.empty())
    LOB_TRY(env.proxy->ensure_running());
  log::info("reconcile.done", {{"tenants", tenants.size()}, {"torn_down", report.removed}});
  return recreated;
}

}  // namespace lobster::daemon
