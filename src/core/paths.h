// Paths: every file and directory lobsterd touches, derived from one state root.
//
// Without a root the usual FHS locations are used (/etc/lobsterd, /var/lib/lobsterd,
// /run/lobsterd, /var/log/lobsterd). With `--root DIR` (or LOBSTERD_ROOT) ALL state lives under
// DIR (DIR/etc, DIR/lib, DIR/run, DIR/log), so two roots run side by side and every test uses
// its own temporary root. Unix socket paths must stay < 108 bytes: keep roots short.
#pragma once

#include <string>

namespace lobster {

struct Paths {
  std::string root;        // "" for the system layout.
  std::string config_dir;  // /etc/lobsterd            (0711)
  std::string data_dir;    // /var/lib/lobsterd        (0711)
  std::string run_dir;     // /run/lobsterd           (0755)
  std::string log_dir;     // /var/log/lobsterd       (0700)

  // Resolves the layout: explicit root, else $LOBSTERD_ROOT, else system layout.
  static Paths resolve(const std::string& root_flag);
  static Paths under(const std::string& root);  // "" -> system layout.

  std::string config_file() const { return config_dir + "/config.json"; }
  std::string keys_dir() const { return config_dir + "/keys"; }  // 0700
  std::string db_file() const { return data_dir + "/state.db"; }
  std::string images_dir() const { return data_dir + "/images"; }
  std::string image_dir(const std::string& profile) const { return images_dir() + "/" + profile; }
  std::string overlays_dir() const { return data_dir + "/overlays"; }    // 0700
  std::string snapshots_dir() const { return data_dir + "/snapshots"; }  // 0700
  std::string ssh_dir() const { return data_dir + "/ssh"; }              // 0700
  std::string jail_dir() const { return data_dir + "/jail"; }            // 0711
  std::string tenant_run_dir(const std::string& tenant) const { return run_dir + "/t/" + tenant; }
  std::string api_socket() const { return run_dir + "/api.sock"; }
  std::string pid_file() const { return run_dir + "/lobsterd.pid"; }
  std::string caddy_dir() const { return data_dir + "/caddy"; }
  std::string caddy_admin_socket() const { return run_dir + "/caddy-admin.sock"; }
  std::string caddy_config_file() const { return caddy_dir() + "/caddy.json"; }
  std::string ingress_socket() const { return run_dir + "/ingress.sock"; }  // Caddy's upstream
  std::string ingress_control_socket() const { return run_dir + "/ingress-ctl.sock"; }
  std::string ingress_pid_file() const { return run_dir + "/ingress.pid"; }
  std::string daemon_log() const { return log_dir + "/daemon.log"; }
  std::string tenant_log_dir(const std::string& tenant) const { return log_dir + "/t/" + tenant; }
};

}  // namespace lobster
