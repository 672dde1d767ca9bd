// lobster-testgw: the minimal profile's gateway (see testgw.h). Configuration from the
// environment the guest supervisor provides: OPENCLAW_GATEWAY_TOKEN (required for /ws; without
// it every /ws request is refused) and OPENCLAW_GATEWAY_PORT (default 9000). Host tests may
// set LOBSTER_TESTGW_BIND (numeric IPv4, default 0.0.0.0) to stay on loopback.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "guest/testgw/testgw.h"

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  lobster::guest::testgw::Options options;
  if (const char* token = std::getenv("OPENCLAW_GATEWAY_TOKEN"))
    options.token = token;
  if (options.token.empty()) {
    std::fprintf(stderr, "lobster-testgw: OPENCLAW_GATEWAY_TOKEN unset; refusing all /ws\n");
  }
  if (const char* bind = std::getenv("LOBSTER_TESTGW_BIND"))
    options.bind_address = bind;
  if (const char* port = std::getenv("OPENCLAW_GATEWAY_PORT")) {
    std::string_view p(port);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535) {
      std::fprintf(stderr, "lobster-testgw: invalid OPENCLAW_GATEWAY_PORT\n");
      return 2;
    }
    options.port = static_cast<uint16_t>(value);
  }
  auto gw = lobster::guest::testgw::TestGateway::create(options);
  if (!gw) {
    std::fprintf(stderr, "lobster-testgw: %s\n", gw.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "lobster-testgw: listening on %s:%u\n", options.bind_address.c_str(),
               static_cast<unsigned>((*gw)->port()));
  (*gw)->serve();
  return 0;
}
