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

struct TcpLine {
  std::string_view local_address;  // hex address
  unsigned local_port = 0;
  std::string_view remote_address;
  std::string_view state;
};

// Calls fn(TcpLine) for each well-formed line after the header.
template <typename Fn>
void for_each_tcp_line(std::string_view text, Fn&& fn) {
  bool header = true;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    auto f = fields(line);
    if (f.size() < 4)
      continue;
    size_t lc = f[1].rfind(':');
    size_t rc = f[2].rfind(':');
    if (lc == std::string_view::npos || rc == std::string_view::npos)
      continue;
    std::string_view port_hex = f[1].substr(lc + 1);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), port, 16);
    if (ec != std::errc() || p != port_hex.data() + port_hex.size() || port > 65535)
      continue;
    fn(TcpLine{f[1].substr(0, lc), port, f[2].substr(0, rc), f[3]});
  }
}

// /proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) order:
// 127.x.y.z ends in "7F" (also as ::ffff:127.x.y.z), ::1 is 0...01000000.
bool loopback(std::string_view hex) {
  if (hex.size() == 8)
    return hex.ends_with("7F");
  if (hex.size() == 32) {
    return hex == "00000000000000000000000001000000" ||
           (hex.starts_with("0000000000000000FFFF0000") && hex.ends_with("7F"));
  }
  return false;
}

}  // namespace

int count_established_outbound(std::string_view proc_net_tcp, std::string_view proc_net_tcp6) {
  std::vector<unsigned> listening;
  for (std::string_view text : {proc_net_tcp, proc_net_tcp6}) {
    for_each_tcp_line(text, [&](const TcpLine& l) {
      if (l.state == "0A")
        listening.push_back(l.local_port);
    });
  }
  int count = 0;
  for (std::string_view text : {proc_net_tcp, proc_net_tcp6}) {
    for_each_tcp_line(text, [&](const TcpLine& l) {
      if (l.state != "01" || loopback(l.remote_address))
        return;
      for (unsigned p : listening) {
        if (p == l.local_port)
          return;
      }
      ++count;
    });
  }
  return count;
}

int count_established_inbound(std::string_view proc_net_tcp, uint16_t local_port) {
  int count = 0;
  for_each_tcp_line(proc_net_tcp, [&](const TcpLine& l) {
    if (l.state == "01" && l.local_port == local_port)
      ++count;
  });
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
