#include "cli/commands.h"

namespace lobster::cli {

void register_all(CommandHost& host) {
  register_init(host);
  register_status(host);
  register_uninit(host);
  register_daemon(host);
  register_demo(host);
}

}  // namespace lobster::cli
