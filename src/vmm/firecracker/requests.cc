#include "vmm/firecracker/requests.h"

#include <charconv>

namespace lobster::vmm::firecracker {
namespace {

using nlohmann::json;

json bucket_json(const TokenBucket& b) {
  return json{
      {"size", b.size}, {"one_time_burst", b.one_time_burst}, {"refill_time", b.refill_time_ms}};
}

}  // namespace

json rate_limiter_json(const RateLimiter& limit) {
  json out = json::object();
  if (limit.bandwidth)
    out["bandwidth"] = bucket_json(*limit.bandwidth);
  if (limit.ops)
    out["ops"] = bucket_json(*limit.ops);
  return out;
}

MemFileStyle mem_file_style_for_version(const std::string& version) {
  std::string_view v = version;
  if (v.starts_with('v'))
    v.remove_prefix(1);
  int major = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
  if (ec != std::errc() || p == v.data()) {
    return MemFileStyle::kMemBackend;
  }
  return major >= 1 ? MemFileStyle::kMemBackend : MemFileStyle::kMemFilePath;
}

ApiRequest put_machine_config(int64_t vcpu_count, int64_t mem_size_mib) {
  return {"PUT", "/machine-config",
          json{{"vcpu_count", vcpu_count}, {"mem_size_mib", mem_size_mib}, {"smt", false}}};
}

ApiRequest put_boot_source(const std::string& kernel_image_path, const std::string& initrd_path,
                           const std::string& boot_args) {
  json body{{"kernel_image_path", kernel_image_path}, {"boot_args", boot_args}};
  if (!initrd_path.empty())
    body["initrd_path"] = initrd_path;
  return {"PUT", "/boot-source", std::move(body)};
}

ApiRequest put_drive(const std::string& drive_id, const std::string& path_on_host,
                     bool is_root_device, bool is_read_only,
                     const std::optional<RateLimiter>& limit) {
  json body{{"drive_id", drive_id},
            {"path_on_host", path_on_host},
            {"is_root_device", is_root_device},
            {"is_read_only", is_read_only}};
  if (limit)
    body["rate_limiter"] = rate_limiter_json(*limit);
  return {"PUT", "/drives/" + drive_id, std::move(body)};
}

ApiRequest put_network_interface(const std::string& iface_id, const std::string& host_dev_name,
                                 const std::string& guest_mac, const std::optional<RateLimiter>& rx,
                                 const std::optional<RateLimiter>& tx) {
  json body{{"iface_id", iface_id}, {"host_dev_name", host_dev_name}};
  if (!guest_mac.empty())
    body["guest_mac"] = guest_mac;
  if (rx)
    body["rx_rate_limiter"] = rate_limiter_json(*rx);
  if (tx)
    body["tx_rate_limiter"] = rate_limiter_json(*tx);
  return {"PUT", "/network-interfaces/" + iface_id, std::move(body)};
}

ApiRequest put_logger(const std::string& log_path, const std::string& level) {
  return {"PUT", "/logger",
          json{{"log_path", log_path},
               {"level", level},
               {"show_level", true},
               {"show_log_origin", false}}};
}

ApiRequest put_metrics(const std::string& metrics_path) {
  return {"PUT", "/metrics", json{{"metrics_path", metrics_path}}};
}

ApiRequest instance_start() { return {"PUT", "/actions", json{{"action_type", "InstanceStart"}}}; }

ApiRequest send_ctrl_alt_del() {
  return {"PUT", "/actions", json{{"action_type", "SendCtrlAltDel"}}};
}

ApiRequest flush_metrics() { return {"PUT", "/actions", json{{"action_type", "FlushMetrics"}}}; }

ApiRequest patch_vm_state(bool paused) {
  return {"PATCH", "/vm", json{{"state", paused ? "Paused" : "Resumed"}}};
}

ApiRequest snapshot_create(const std::string& snapshot_path, const std::string& mem_file_path) {
  return {"PUT", "/snapshot/create",
          json{{"snapshot_type", "Full"},
               {"snapshot_path", snapshot_path},
               {"mem_file_path", mem_file_path}}};
}

ApiRequest snapshot_load(const std::string& snapshot_path, const std::string& mem_file_path,
                         bool resume_vm, MemFileStyle style, const std::string& iface_id,
                         const std::string& tap_override) {
  json body{{"snapshot_path", snapshot_path}, {"resume_vm", resume_vm}};
  switch (style) {
    case MemFileStyle::kMemBackend:
      body["mem_backend"] = json{{"backend_type", "File"}, {"backend_path", mem_file_path}};
      break;
    case MemFileStyle::kMemFilePath:
      body["mem_file_path"] = mem_file_path;
      break;
  }
  if (!tap_override.empty()) {
    body["network_overrides"] =
        json::array({json{{"iface_id", iface_id}, {"host_dev_name", tap_override}}});
  }
  return {"PUT", "/snapshot/load", std::move(body)};
}

ApiRequest describe_instance() { return {"GET", "/", std::nullopt}; }

ApiRequest get_version() { return {"GET", "/version", std::nullopt}; }

}  // namespace lobster::vmm::firecracker
