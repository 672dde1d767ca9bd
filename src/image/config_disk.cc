#include "image/config_disk.h"

#include <sodium.h>

#include "core/fs.h"

namespace lobster::image {
namespace {

std::string base64(std::string_view bin) {
  std::string out(sodium_base64_encoded_len(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.find('\0'));
  return out;
}

bool unbase64(std::string_view text, std::string* out) {
  out->assign(text.size(), '\0');
  size_t len = 0;
  // Kernel ABI: none; libsodium takes unsigned char buffers, std::string storage is contiguous.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  out->resize(len);
  return true;
}

}  // namespace

Result<std::string> encode_config_disk(const ConfigDisk& cfg) {
  if (cfg.hostname.empty() || cfg.agent_token.empty() || cfg.address.empty()) {
    return make_error(ErrorCode::kValidationFailed,
                      "config disk needs hostname, agent token and guest address");
  }
  nlohmann::json doc = {
      {"version", 1},
      {"hostname", cfg.hostname},
      {"agentToken", cfg.agent_token},
      {"gatewayToken", cfg.gateway_token},
      {"network",
       {{"address", cfg.address},
        {"prefixLength", cfg.prefix_length},
        {"gateway", cfg.gateway},
        {"dns", cfg.dns}}},
      {"ssh",
       {{"authorizedKey", cfg.ssh_authorized_key}, {"hostKeyDropbear", base64(cfg.ssh_host_key)}}},
      {"openclawConfig", cfg.openclaw_config},
      {"agentPort", cfg.agent_port},
      {"healthPort", cfg.health_port},
      {"hostTimeMs", cfg.host_time_ms},
  };
  std::string out(kConfigDiskMagic);
  try {
    // dump() escapes nothing that could contain a raw newline, so the document is one line.
    out += doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kValidationFailed, "config disk: {}", e.what());
  }
  out += '\n';
  out.resize((out.size() + kConfigDiskAlign - 1) / kConfigDiskAlign * kConfigDiskAlign, '\0');
  if (out.size() > kConfigDiskMaxBytes) {
    return make_error(ErrorCode::kValidationFailed, "config disk would be {} bytes (max {})",
                      out.size(), kConfigDiskMaxBytes);
  }
  return out;
}

Result<ConfigDisk> decode_config_disk(std::string_view raw) {
  if (!raw.starts_with(kConfigDiskMagic)) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: magic missing");
  }
  raw.remove_prefix(kConfigDiskMagic.size());
  const size_t nl = raw.find('\n');
  if (nl == std::string_view::npos) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: document not terminated");
  }
  ConfigDisk cfg;
  try {
    const auto doc = nlohmann::json::parse(raw.substr(0, nl));
    if (doc.at("version").get<int>() != 1) {
      return make_error(ErrorCode::kConfigInvalid, "config disk: unsupported version");
    }
    cfg.hostname = doc.at("hostname").get<std::string>();
    cfg.agent_token = doc.at("agentToken").get<std::string>();
    cfg.gateway_token = doc.value("gatewayToken", "");
    const auto& net = doc.at("network");
    cfg.address = net.at("address").get<std::string>();
    cfg.prefix_length = net.value("prefixLength", 30);
    cfg.gateway = net.value("gateway", "");
    cfg.dns = net.value("dns", std::vector<std::string>{});
    if (auto ssh = doc.find("ssh"); ssh != doc.end()) {
      cfg.ssh_authorized_key = ssh->value("authorizedKey", "");
      if (!unbase64(ssh->value("hostKeyDropbear", ""), &cfg.ssh_host_key)) {
        return make_error(ErrorCode::kConfigInvalid, "config disk: bad ssh.hostKeyDropbear");
      }
    }
    cfg.openclaw_config = doc.value("openclawConfig", nlohmann::json::object());
    cfg.agent_port = doc.value("agentPort", uint16_t{52});
    cfg.health_port = doc.value("healthPort", uint16_t{53});
    cfg.host_time_ms = doc.value("hostTimeMs", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kConfigInvalid, "config disk: {}", e.what());
  }
  return cfg;
}

Status write_config_disk(const std::string& path, const ConfigDisk& cfg) {
  const std::string bytes = LOB_TRY(encode_config_disk(cfg));
  if (auto st = fs::write_file_atomic(path, bytes, 0600); !st) {
    Error e = std::move(st).error();
    e.code = ErrorCode::kOverlayCreateFailed;
    e.message = "write config disk: " + e.message;
    return make_error(std::move(e));
  }
  return ok();
}

}  // namespace lobster::image
