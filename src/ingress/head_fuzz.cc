// libFuzzer target for the ingress's request-head routing (head.h): arbitrary bytes must give
// a route or a kValidationFailed / kTenantNotFound error whose HTTP answer formats, never a
// crash, hang or sanitizer report. Built by clang++-16 when present (src/ingress/CMakeLists.txt);
// ctest's `ingress_head_fuzz_smoke` runs it briefly; README.md documents the long run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingress/head.h"
#include "ingress/response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Kernel ABI: none; uint8_t and char alias, so viewing the bytes as chars is sound.
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::string_view domain : {"lobster.localhost", "example.com"}) {
    auto route = lobster::ingress::route_head(input, domain);
    if (route) {
      // A routed head always names a valid tenant label.
      if (route->tenant.empty() || route->tenant.size() > 63)
        std::abort();
    } else if (route.error().code != lobster::ErrorCode::kValidationFailed &&
               route.error().code != lobster::ErrorCode::kTenantNotFound) {
      std::abort();
    } else {
      // The answer carries the client's bytes back in its message: it must always format.
      (void)lobster::ingress::error_response(400, route.error(), 0);
    }
    (void)lobster::ingress::tenant_for_host(input.substr(0, 300), domain);
  }
  return 0;
}
