#include "api/endpoints.h"

namespace lobster::api {

std::string_view version() { return LOBSTER_VERSION; }

void register_all(Router& router, ApiContext& ctx) {
  register_health(router, ctx);
  register_status(router, ctx);
}

}  // namespace lobster::api
