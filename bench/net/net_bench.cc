// bench/net: per-tenant network setup (TAP + rules) and teardown time with 0, 50 and 200 other
// tenants present, median of --samples runs (default 7), printed as JSON. Runs as root inside
// a network namespace it creates (nothing on the host changes).
//
//   sudo build/bench/net/net_bench [--samples N] [--backend nft|legacy]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/firewall/iptables_firewall.h"
#include "host/firewall/tenant_network.h"
#include "host/net/rtnl_links.h"
#include "host/net/testing/netns.h"
#include "host/process/process.h"

namespace {

using namespace lobster;  // NOLINT(google-build-using-namespace): small tool

firewall::TenantNetworkSpec spec(uint32_t id) {
  auto base = net::parse_ipv4("10.0.0.0").value();
  auto s = net::subnet_for_index(base, id).value();
  return {.net = {.tap_id = id, .host_ip = s.host, .guest_ip = s.guest},
          .uid = 10000 + id,
          .gid = 10000 + id};
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int fail(const Error& e) {
  std::cerr << "net_bench: " << e.to_string() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 7;
  firewall::Backend backend = firewall::Backend::kNft;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
      samples = std::max(5, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
      backend = std::strcmp(argv[++i], "legacy") == 0 ? firewall::Backend::kLegacy
                                                      : firewall::Backend::kNft;
    } else {
      std::cerr << "usage: net_bench [--samples N>=5] [--backend nft|legacy]\n";
      return 2;
    }
  }
  auto ns = net::testing::Netns::create();
  if (!ns) {
    return fail(ns.error());
  }
  auto guard = net::testing::NetnsGuard::enter(*ns);
  if (!guard) {
    return fail(guard.error());
  }
  auto links = net::RtnlLinks::create();
  if (!links) {
    return fail(links.error());
  }
  process::PosixProcessRunner runner;
  firewall::IptablesFirewall fw(runner, {.backend = backend});
  if (auto st = fw.ensure_base(); !st) {
    return fail(st.error());
  }

  nlohmann::json results = nlohmann::json::array();
  uint32_t present = 0;
  for (uint32_t others : {0U, 50U, 200U}) {
    for (; present < others; ++present) {
      if (auto r = setup_tenant_network(*links, fw, spec(1000 + present)); !r) {
        return fail(r.error());
      }
    }
    std::vector<double> setup, teardown, rules_in, rules_out;
    for (int i = 0; i < samples; ++i) {
      auto t = spec(1);
      auto start = std::chrono::steady_clock::now();
      if (auto r = setup_tenant_network(*links, fw, t); !r) {
        return fail(r.error());
      }
      setup.push_back(ms_since(start));
      start = std::chrono::steady_clock::now();
      if (auto r = teardown_tenant_network(*links, fw, t.net); !r) {
        return fail(r.error());
      }
      teardown.push_back(ms_since(start));
      // Rules alone (the part that could grow with the rule count).
      start = std::chrono::steady_clock::now();
      if (auto r = fw.apply_tenant(t.net); !r) {
        return fail(r.error());
      }
      rules_in.push_back(ms_since(start));
      start = std::chrono::steady_clock::now();
      if (auto r = fw.remove_tenant(t.net); !r) {
        return fail(r.error());
      }
      rules_out.push_back(ms_since(start));
    }
    results.push_back({{"other_tenants", others},
                       {"setup_ms_median", median(setup)},
                       {"teardown_ms_median", median(teardown)},
                       {"apply_rules_ms_median", median(rules_in)},
                       {"remove_rules_ms_median", median(rules_out)}});
  }
  nlohmann::json out = {{"benchmark", "net_tenant_setup_teardown"},
                        {"backend", std::string(firewall::backend_name(backend))},
                        {"samples", samples},
                        {"results", results}};
  std::cout << out.dump(2) << "\n";
  return 0;
}
