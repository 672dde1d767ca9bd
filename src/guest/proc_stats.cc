#include "guest/proc_stats.h"

#include <charconv>
#include <vector>

namespace lobster::guest {
namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) {
      ++i;
    }
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      ++i;
    }
    if (i > start) {
      out.push_back(line.substr(start, i - start));
    }
  }
  return out;
}

}  // namespace

int count_established_inbound(std::string_view proc_net_tcp, uint16_t local_port) {
  int count = 0;
  bool header = true;
  while (!proc_net_tcp.empty()) {
    size_t nl = proc_net_tcp.find('\n');
    std::string_view line = proc_net_tcp.substr(0, nl);
    proc_net_tcp = nl == std::string_view::npos ? std::string_view() : proc_net_tcp.substr(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    // "  0: 0100007F:2328 0100007F:A1B2 01 ..." -> sl, local, remote, state
    auto f = fields(line);
    if (f.size() < 4 || f[3] != "01") {
      continue;
    }
    size_t colon = f[1].rfind(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view port_hex = f[1].substr(colon + 1);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), port, 16);
    if (ec == std::errc() && p == port_hex.data() + port_hex.size() && port == local_port) {
      ++count;
    }
  }
  return count;
}

int64_t parse_vm_rss_kb(std::string_view proc_status) {
  size_t pos = proc_status.find("\nVmRSS:");
  if (pos == std::string_view::npos) {
    if (proc_status.starts_with("VmRSS:")) {
      pos = 0;
    } else {
      return 0;
    }
  } else {
    pos += 1;
  }
  std::string_view rest = proc_status.substr(pos + 6);
  size_t i = 0;
  while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) {
    ++i;
  }
  int64_t kb = 0;
  auto [p, ec] = std::from_chars(rest.data() + i, rest.data() + rest.size(), kb);
  (void)p;
  return ec == std::errc() ? kb : 0;
}

}  // namespace lobster::guest
