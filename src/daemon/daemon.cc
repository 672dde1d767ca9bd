#include "daemon/daemon.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "api/context.h"
#include "api/endpoints.h"
#include "api/http_status.h"
#include "api/server.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/log.h"
#include "daemon/front_door.h"
#include "daemon/ingress_activity.h"
#include "daemon/layout.h"
#include "daemon/pid_file.h"
#include "daemon/preflight.h"
#include "daemon/tenant_runtime.h"
#include "sched/autonomy.h"
#include "store/sqlite_store.h"

namespace lobster::daemon {
namespace {

void write_all(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    off += static_cast<size_t>(n);
  }
}

// Reports the outcome of start-up to the waiting parent (start_detached) exactly once.
class ReadyReporter {
 public:
  explicit ReadyReporter(int fd) : fd_(fd) {}
  ~ReadyReporter() { close(); }
  void ready() {
    if (fd_ >= 0)
      write_all(fd_, fmt::format("ready {}\n", ::getpid()));
    close();
  }
  Status fail(Error e) {
    log::error("daemon.start_failed", {{"code", code_name(e.code)}, {"message", e.message}});
    if (fd_ >= 0) {
      nlohmann::json j = api::error_body(e);
      write_all(fd_, "error " + j.dump() + "\n");
    }
    close();
    return make_error(std::move(e));
  }

 private:
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

#define LOB_TRY_REPORT(reporter, expr)                               \
  __extension__({                                                    \
    auto&& lob_report_result_ = (expr);                              \
    if (!lob_report_result_.has_value())                             \
      return (reporter).fail(std::move(lob_report_result_).error()); \
    std::move(lob_report_result_).value();                           \
  })

}  // namespace

Status run_foreground(const Paths& paths, const DaemonOptions& options) {
  ReadyReporter reporter(options.ready_fd);
  ::signal(SIGPIPE, SIG_IGN);
  LOB_TRY_REPORT(reporter, ensure_layout(paths));
  PidFile pid_file = LOB_TRY_REPORT(reporter, PidFile::acquire(paths.pid_file()));
  LOB_TRY_REPORT(reporter, log::init_file(paths.daemon_log()));
  log::set_stderr(options.log_to_stderr);
  log::info("daemon.starting", {{"pid", ::getpid()}, {"root", paths.root}});

  SystemClock clock;
  api::ApiContext ctx;
  ctx.paths = paths;
  ctx.config = LOB_TRY_REPORT(reporter, load_config(paths));
  // Caddy's config is static (domain, ports, TLS): written here and never on tenant changes.
  LOB_TRY_REPORT(reporter, proxy::write_caddy_config(caddy_options(paths, ctx.config),
                                                     paths.caddy_config_file()));
  auto store = LOB_TRY_REPORT(reporter, store::SqliteStore::open(paths.db_file(), clock));
  ctx.store = store.get();
  ctx.clock = &clock;
  ctx.daemon_pid = ::getpid();
  ctx.started_ms = clock.now_ms();
  ctx.started_monotonic_ms = clock.monotonic_ms();
  // Preflight forks the KVM probe, so it runs before the server exists.
  ctx.preflight = preflight_to_json(
      run_preflight(real_preflight_env(ctx.paths.run_dir + "/kvm-probe.json"), ctx.config));

  // Tenant machinery. A host that cannot run tenants (no iptables, no TUN, ...) still serves
  // status; tenant endpoints then answer with the reason.
  std::unique_ptr<TenantRuntime> tenants;
  // Declared before `autonomy`, which uses them until it is destroyed.
  std::unique_ptr<sched::GuestInboundActivity> guest_activity;
  std::unique_ptr<IngressActivity> activity;
  std::unique_ptr<sched::Autonomy> autonomy;
  if (auto rt = TenantRuntime::create(paths, ctx.config, *store); rt) {
    tenants = std::move(*rt);
    ctx.tenants = &tenants->service();
    // Finish or undo what a previous daemon left half-done, rebuild rules and routes.
    auto reconciled = tenants->reconcile();
    if (!reconciled) {
      log::error("daemon.reconcile_failed", {{"error", reconciled.error().to_string()}});
    }
    // The fleet's own loops. Every start may follow a host reboot: the first watchdog tick
    // runs at once and boots the active tenants whose VMM is gone.
    guest_activity = std::make_unique<sched::GuestInboundActivity>(tenants->service());
    activity = std::make_unique<IngressActivity>(paths.ingress_control_socket(), *guest_activity);
    autonomy = std::make_unique<sched::Autonomy>(tenants->service(), clock, activity.get());
    ctx.watchdog = &autonomy->watchdog();
    if (reconciled) {
      for (const auto& name : *reconciled) autonomy->watchdog().tap_recreated(name);
    }
    autonomy->start();
  } else {
    ctx.tenants_unavailable = rt.error();
    log::error("daemon.tenants_unavailable", {{"error", rt.error().to_string()}});
  }

  api::Router router;
  api::register_all(router, ctx);
  auto server =
      LOB_TRY_REPORT(reporter, api::ApiServer::create(router, {.socket_path = paths.api_socket()}));
  log::info("daemon.ready", {{"socket", paths.api_socket()}});
  reporter.ready();

  Status served = server->run();
  if (autonomy)
    autonomy->stop();  // running repairs finish first
  log::info("daemon.stopped", {{"signal", server->stop_signal()}});
  return served;
}

Result<std::optional<pid_t>> running_daemon(const Paths& paths) {
  return PidFile::holder(paths.pid_file());
}

Status stop_daemon(const Paths& paths, int timeout_ms) {
  auto pid = LOB_TRY(running_daemon(paths));
  if (!pid)
    return ok();
  if (*pid > 0 && ::kill(*pid, SIGTERM) != 0 && errno != ESRCH) {
    return errno_error(ErrorCode::kPermissionDenied, fmt::format("signal daemon pid {}", *pid));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    // The daemon removes its pid file just before it exits; wait for the exit itself too, so
    // callers (uninit) never race its last steps.
    auto still = LOB_TRY(running_daemon(paths));
    if (!still && (*pid <= 0 || process::process_exited(*pid)))
      return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return make_error(ErrorCode::kExecTimeout, "daemon pid {} did not stop within {} ms", *pid,
                    timeout_ms);
}

}  // namespace lobster::daemon
