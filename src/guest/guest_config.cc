#include "guest/guest_config.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/unique_fd.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

Result<std::string> required_string(const json& obj, const char* key, const char* path) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: {} must be a non-empty string",
                      path);
  }
  return it->get<std::string>();
}

std::string optional_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<uint16_t> port_or(const json& obj, const char* key, uint16_t dflt) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return dflt;
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > 65535) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: {} must be a port number", key);
  }
  return static_cast<uint16_t>(it->get<uint64_t>());
}

}  // namespace

bool has_config_magic(std::string_view head) { return head.starts_with(kConfigMagic); }

Result<GuestConfig> parse_config_disk(std::string_view raw) {
  if (!has_config_magic(raw)) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: magic LOBSTERCFG1 missing");
  }
  raw.remove_prefix(kConfigMagic.size());
  // The document runs up to the zero padding (it may be pretty-printed) and ends with '\n'.
  raw = raw.substr(0, raw.find('\0'));
  if (raw.empty() || raw.back() != '\n') {
    return make_error(ErrorCode::kConfigInvalid, "config disk: JSON not terminated by newline");
  }
  size_t end = raw.size() - 1;
  json doc = json::parse(raw.substr(0, end), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: not a JSON object");
  }
  auto ver = doc.find("version");
  if (ver == doc.end() || !ver->is_number_integer() || ver->get<int64_t>() != 1) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: version must be 1");
  }
  GuestConfig cfg;
  cfg.hostname = LOB_TRY(required_string(doc, "hostname", "hostname"));
  cfg.agent_token = LOB_TRY(required_string(doc, "agentToken", "agentToken"));
  cfg.gateway_token = optional_string(doc, "gatewayToken");
  auto net = doc.find("network");
  if (net == doc.end() || !net->is_object()) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: network must be an object");
  }
  cfg.network.address = LOB_TRY(required_string(*net, "address", "network.address"));
  cfg.network.gateway = optional_string(*net, "gateway");
  if (auto p = net->find("prefixLength"); p != net->end()) {
    if (!p->is_number_unsigned() || p->get<uint64_t>() > 32) {
      return make_error(ErrorCode::kConfigInvalid,
                        "config disk: network.prefixLength must be 0..32");
    }
    cfg.network.prefix_length = static_cast<int>(p->get<uint64_t>());
  }
  if (auto d = net->find("dns"); d != net->end() && d->is_array()) {
    for (const auto& s : *d) {
      if (s.is_string()) {
        cfg.network.dns.push_back(s.get<std::string>());
      }
    }
  }
  if (auto ssh = doc.find("ssh"); ssh != doc.end() && ssh->is_object()) {
    cfg.ssh_authorized_key = optional_string(*ssh, "authorizedKey");
    std::string hk = optional_string(*ssh, "hostKeyDropbear");
    if (!hk.empty()) {
      auto decoded = base64_decode(hk);
      if (!decoded) {
        return make_error(ErrorCode::kConfigInvalid,
                          "config disk: ssh.hostKeyDropbear is not valid base64");
      }
      cfg.ssh_host_key = std::move(*decoded);
    }
  }
  if (auto oc = doc.find("openclawConfig"); oc != doc.end() && oc->is_object()) {
    cfg.openclaw_config = *oc;
  }
  cfg.agent_port = LOB_TRY(port_or(doc, "agentPort", 52));
  cfg.health_port = LOB_TRY(port_or(doc, "healthPort", 53));
  if (auto t = doc.find("hostTimeMs"); t != doc.end() && t->is_number_integer()) {
    cfg.host_time_ms = t->get<int64_t>();
  }
  return cfg;
}

Result<std::string> read_config_device(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return errno_error(ErrorCode::kConfigNotFound, "open config disk " + path);
  }
  std::string out;
  char buf[65536];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errno_error(ErrorCode::kConfigNotFound, "read config disk " + path);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    // The document ends at the first newline after the magic; stop once we have it.
    if (out.size() > kConfigMagic.size() &&
        out.find('\n', kConfigMagic.size()) != std::string::npos) {
      break;
    }
  }
  return out;
}

Result<GatewayProfile> parse_profile(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::kConfigInvalid, "profile.json: not a JSON object");
  }
  GatewayProfile p;
  p.profile = optional_string(doc, "profile");
  auto gw = doc.find("gateway");
  if (gw == doc.end() || !gw->is_object()) {
    return make_error(ErrorCode::kConfigInvalid, "profile.json: gateway must be an object");
  }
  auto argv = gw->find("argv");
  if (argv == gw->end() || !argv->is_array() || argv->empty()) {
    return make_error(ErrorCode::kConfigInvalid,
                      "profile.json: gateway.argv must be a non-empty array");
  }
  for (const auto& a : *argv) {
    if (!a.is_string()) {
      return make_error(ErrorCode::kConfigInvalid, "profile.json: gateway.argv must be strings");
    }
    p.argv.push_back(a.get<std::string>());
  }
  if (auto env = gw->find("env"); env != gw->end() && env->is_object()) {
    for (const auto& [k, v] : env->items()) {
      if (v.is_string()) {
        p.env[k] = v.get<std::string>();
      }
    }
  }
  std::string cwd = optional_string(*gw, "cwd");
  if (!cwd.empty()) {
    p.cwd = cwd;
  }
  return p;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) {
    return std::nullopt;  // a lone trailing sextet cannot encode a byte
  }
  return out;
}

uint32_t prefix_to_mask(int prefix_length) {
  if (prefix_length <= 0) {
    return 0;
  }
  if (prefix_length >= 32) {
    return 0xFFFFFFFFu;
  }
  return ~((uint32_t{1} << (32 - prefix_length)) - 1);
}

}  // namespace lobster::guest
