// Firecracker API requests as values (spec §5.5 plus logger, metrics, pause/resume, snapshots).
// Every builder is pure, so tests check each request against the official swagger; only
// ApiClient sends them. Paths inside bodies are chroot-relative ("/rootfs.ext4").
//
//   LOB_TRY(client.call(put_machine_config(2, 1024), ErrorCode::kVmBootFailed));
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/config.h"

namespace lobster::vmm::firecracker {

struct ApiRequest {
  std::string method;  // "GET" | "PUT" | "PATCH"
  std::string path;    // "/drives/rootfs"
  std::optional<nlohmann::json> body;
  bool operator==(const ApiRequest&) const = default;
};

// How PUT /snapshot/load names the memory file: `mem_backend` (Firecracker >= 1.0, and the only
// non-deprecated form in the 1.17 swagger) or the deprecated top-level `mem_file_path`.
enum class MemFileStyle { kMemBackend, kMemFilePath };
// From GET /version's "firecracker_version" ("1.7.0", "v1.17.0-dev"); unknown -> kMemBackend.
MemFileStyle mem_file_style_for_version(const std::string& version);

ApiRequest put_machine_config(int64_t vcpu_count, int64_t mem_size_mib);
ApiRequest put_boot_source(const std::string& kernel_image_path, const std::string& initrd_path,
                           const std::string& boot_args);
ApiRequest put_drive(const std::string& drive_id, const std::string& path_on_host,
                     bool is_root_device, bool is_read_only,
                     const std::optional<RateLimiter>& limit);
ApiRequest put_network_interface(const std::string& iface_id, const std::string& host_dev_name,
                                 const std::string& guest_mac, const std::optional<RateLimiter>& rx,
                                 const std::optional<RateLimiter>& tx);
ApiRequest put_logger(const std::string& log_path, const std::string& level);
ApiRequest put_metrics(const std::string& metrics_path);
ApiRequest instance_start();
ApiRequest send_ctrl_alt_del();
ApiRequest flush_metrics();
ApiRequest patch_vm_state(bool paused);  // {"state":"Paused"} / {"state":"Resumed"}
ApiRequest snapshot_create(const std::string& snapshot_path, const std::string& mem_file_path);
// `tap_override`: re-point iface `iface_id` at another TAP on restore ("" = keep).
ApiRequest snapshot_load(const std::string& snapshot_path, const std::string& mem_file_path,
                         bool resume_vm, MemFileStyle style, const std::string& iface_id = "",
                         const std::string& tap_override = "");
ApiRequest describe_instance();  // GET /  -> InstanceInfo {"state": "Running" | "Paused" | ...}
ApiRequest get_version();        // GET /version

// The body of a RateLimiter (omits buckets that are not set).
nlohmann::json rate_limiter_json(const RateLimiter& limit);

}  // namespace lobster::vmm::firecracker
