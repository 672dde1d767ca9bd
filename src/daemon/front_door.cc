#include "daemon/front_door.h"

#include <filesystem>

#include "core/fs.h"
#include "core/log.h"
#include "ingress/run.h"

namespace lobster::daemon {

proxy::ProxyOptions caddy_options(const Paths& paths, const Config& cfg) {
  proxy::ProxyOptions o;
  o.domain = cfg.caddy.domain;
  o.http_port = cfg.caddy.http_port;
  o.https_port = cfg.caddy.https_port;
  o.admin_socket = paths.caddy_admin_socket();
  o.storage_dir = paths.caddy_dir() + "/data";
  o.ingress_socket = paths.ingress_socket();
  o.ask_port = cfg.ingress.ask_port;
  o.tls_cert_path = cfg.caddy.tls_cert_path;
  o.tls_key_path = cfg.caddy.tls_key_path;
  return o;
}

proxy::CaddyLaunch caddy_launch(const Paths& paths, const Config& cfg) {
  proxy::CaddyLaunch l;
  l.caddy_binary = cfg.caddy.binary_path;
  l.config_file = paths.caddy_config_file();
  l.pid_file = paths.run_dir + "/caddy.pid";
  l.home_dir = paths.caddy_dir() + "/home";
  l.log_file = paths.log_dir + "/caddy.log";
  return l;
}

namespace {

Result<proxy::ProcessSpec> ingress_spec(const Paths& paths) {
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    return make_error(ErrorCode::kIngressUnavailable, "cannot resolve /proc/self/exe");
  std::string control = paths.ingress_control_socket();
  std::vector<std::string> argv = {self, "ingress"};
  if (!paths.root.empty()) {
    argv.push_back("--root");
    argv.push_back(paths.root);
  }
  return proxy::ProcessSpec{.name = "ingress",
                            .argv = argv,
                            .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                            .pid_file = paths.ingress_pid_file(),
                            .self_recorded = true,  // `lobsterd ingress` holds a PidFile lock on it
                            .log_file = paths.log_dir + "/ingress.log",
                            .adopt_arg = "ingress",
                            .stale_sockets = {paths.ingress_socket(), control},
                            .ready = [control] { return ingress::ping(control, 1000).has_value(); },
                            .error_code = ErrorCode::kIngressUnavailable,
                            .hint = "`lobsterd molt` retries; see the ingress log",
                            .supervise = true};
}

}  // namespace

Status stop_front_door(const Paths& paths, const Config& cfg) {
  Status first =
      proxy::CaddyProxy::stop_recorded(caddy_options(paths, cfg), caddy_launch(paths, cfg));
  proxy::ProcessSpec spec = LOB_TRY(ingress_spec(paths));
  Status second = proxy::SupervisedProcess::stop_recorded(std::move(spec));
  return first ? second : first;
}

FrontDoor::FrontDoor(const Paths& paths, const Config& cfg) : paths_(paths), config_(cfg) {}

bool FrontDoor::started_locked() const {
  return (caddy_ && ingress_) || fs::exists(paths_.ingress_pid_file());
}

Status FrontDoor::ensure_running() {
  std::lock_guard lock(mu_);
  if (!ingress_) {
    proxy::ProcessSpec spec = LOB_TRY(ingress_spec(paths_));
    ingress_ = LOB_TRY(proxy::SupervisedProcess::start(spec));
    // An adopted ingress runs with the settings of its start: after a config change (a new
    // domain, say) replace it; its connections were for the old settings anyway.
    nlohmann::json want = ingress::settings_json(ingress::options_for(paths_, config_));
    auto running = ingress::ping(paths_.ingress_control_socket());
    if (ingress_->adopted() && (!running || running->value("settings", nlohmann::json()) != want)) {
      log::info("proxy.ingress_settings_changed", {{"settings", want}});
      LOB_TRY(ingress_->stop());
      ingress_ = LOB_TRY(proxy::SupervisedProcess::start(std::move(spec)));
    }
  } else {
    LOB_TRY(ingress_->ensure_running());
  }
  if (!caddy_) {
    caddy_ = LOB_TRY(
        proxy::CaddyProxy::start(caddy_options(paths_, config_), caddy_launch(paths_, config_)));
  } else {
    LOB_TRY(caddy_->ensure_running());
  }
  return ok();
}

Status FrontDoor::check() {
  std::lock_guard lock(mu_);
  if (!caddy_ || !ingress_) {
    return make_error(
        with_hint(Error{ErrorCode::kIngressUnavailable, "Caddy and the ingress are not started"},
                  "`lobsterd molt` starts them")
            .error());
  }
  if (!caddy_->healthy())
    return make_error(ErrorCode::kCaddyApiError,
                      "Caddy is not running or its admin socket is silent");
  if (!ingress_->healthy())
    return make_error(ErrorCode::kIngressUnavailable,
                      "the ingress is not running or not answering");
  return ok();
}

Result<ingress::ActivityReport> FrontDoor::activity() {
  {
    std::lock_guard lock(mu_);
    if (!started_locked())
      return ingress::ActivityReport{};
  }
  return ingress::query_activity(paths_.ingress_control_socket());
}

}  // namespace lobster::daemon
