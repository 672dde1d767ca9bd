#include "cli/commands.h"

namespace lobster::cli {

void register_all(CommandHost& host) {
  register_init(host);
  register_status(host);
  register_uninit(host);
  register_daemon(host);
  register_ingress(host);
  register_demo(host);
  register_spawn(host);
  register_tenant_ops(host);
  register_snap(host);
  register_logs(host);
  register_exec(host);
  register_configure(host);
  register_devices(host);
  register_molt(host);
  register_image(host);
}

}  // namespace lobster::cli
