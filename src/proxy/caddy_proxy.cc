#include "proxy/caddy_proxy.h"

#include <sys/stat.h>

#include "core/fs.h"
#include "core/log.h"

namespace lobster::proxy {

Result<bool> write_caddy_config(const ProxyOptions& options, const std::string& file) {
  std::string text = base_config(options).dump(2) + "\n";
  auto old = fs::read_file(file);
  if (old && *old == text)
    return false;
  LOB_TRY(fs::write_file_atomic(file, text, 0600));
  return true;
}

namespace {

ProcessSpec process_spec(const ProxyOptions& options, const CaddyLaunch& launch,
                         CaddyAdmin* admin) {
  const std::string& home = launch.home_dir;
  return ProcessSpec{
      .name = "caddy",
      .argv = {launch.caddy_binary, "run", "--config", launch.config_file},
      .env = {"HOME=" + home, "XDG_DATA_HOME=" + home + "/data",
              "XDG_CONFIG_HOME=" + home + "/config", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
      .pid_file = launch.pid_file,
      .log_file = launch.log_file,
      .adopt_arg = launch.config_file,
      .stale_sockets = {options.admin_socket},
      // umask 077 already made the admin socket owner-only (0700); sockets need no x bit.
      .ready =
          [admin, socket = options.admin_socket] {
            return admin->reachable() && ::chmod(socket.c_str(), 0600) == 0;
          },
      .error_code = ErrorCode::kCaddyApiError,
      .hint = "is another server using ports " + std::to_string(options.http_port) + "/" +
              std::to_string(options.https_port) + "?",
      .supervise = launch.supervise};
}

}  // namespace

Status CaddyProxy::stop_recorded(const ProxyOptions& options, const CaddyLaunch& launch) {
  CaddyAdmin admin(options.admin_socket);
  return SupervisedProcess::stop_recorded(process_spec(options, launch, &admin));
}

CaddyProxy::CaddyProxy(ProxyOptions options, CaddyLaunch launch)
    : options_(std::move(options)),
      launch_(std::move(launch)),
      admin_(std::make_unique<CaddyAdmin>(options_.admin_socket)) {}

Result<std::unique_ptr<CaddyProxy>> CaddyProxy::start(ProxyOptions options, CaddyLaunch launch) {
  std::unique_ptr<CaddyProxy> p(new CaddyProxy(std::move(options), std::move(launch)));
  LOB_TRY(fs::ensure_dir(p->launch_.home_dir, 0700));
  LOB_TRY(fs::ensure_dir(p->options_.storage_dir, 0700));
  LOB_TRY(write_caddy_config(p->options_, p->launch_.config_file));
  ProcessSpec spec = process_spec(p->options_, p->launch_, p->admin_.get());
  p->process_ = LOB_TRY(SupervisedProcess::start(std::move(spec)));
  // A Caddy started here read the file; an adopted one runs what it was last loaded with
  // (recorded beside the file), so only a real settings change (domain, TLS) reloads it.
  const std::string desired = base_config(p->options_).dump(2) + "\n";
  const std::string loaded_file = p->launch_.config_file + ".loaded";
  auto loaded = fs::read_file(loaded_file);
  if (p->process_->adopted() && (!loaded || *loaded != desired)) {
    LOB_TRY(p->admin_->load(base_config(p->options_)));
    log::info("proxy.caddy_config_loaded", {{"domain", p->options_.domain}});
  }
  if (!loaded || *loaded != desired)
    LOB_TRY(fs::write_file_atomic(loaded_file, desired, 0600));
  return p;
}

Status CaddyProxy::stop_caddy() { return process_->stop(); }

int CaddyProxy::caddy_pid() const { return process_->pid(); }

bool CaddyProxy::healthy() const { return process_->healthy(); }

Status CaddyProxy::ensure_running() { return process_->ensure_running(); }

std::string CaddyProxy::ca_root_path() const {
  return options_.storage_dir + "/pki/authorities/local/root.crt";
}

}  // namespace lobster::proxy
