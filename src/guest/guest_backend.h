// GuestBackend: the real AgentBackend inside the guest (lobster-init). Owns the in-memory
// secrets and holds; drives the gateway Service; answers cron/heartbeat methods through the
// OpenClaw gateway RPC client (openclaw_rpc.h) on an RpcWorker thread, posting replies back to
// the event loop.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "guest/dispatch.h"
#include "guest/event_loop.h"
#include "guest/guest_config.h"
#include "guest/holds.h"
#include "guest/openclaw_rpc.h"
#include "guest/rpc_worker.h"
#include "guest/supervisor.h"

namespace lobster::guest {

// Files lobster-init writes (guest contract).
struct GuestPaths {
  std::string log_dir = "/var/log/lobster";
  std::string ssh_dir = "/root/.ssh";
  std::string openclaw_dir = "/root/.openclaw";
  std::string dropbear_dir = "/etc/dropbear";
  std::string proc_net_tcp = "/proc/net/tcp";
  // A gateway listening on "::" (Node's default) accepts IPv4 clients as v4-mapped sockets.
  std::string proc_net_tcp6 = "/proc/net/tcp6";
  std::string authorized_keys() const { return ssh_dir + "/authorized_keys"; }
  std::string openclaw_json() const { return openclaw_dir + "/openclaw.json"; }
  std::string dropbear_host_key() const { return dropbear_dir + "/dropbear_ed25519_host_key"; }
  std::string log(std::string_view service) const {
    return log_dir + "/" + std::string(service) + ".log";
  }
};

inline constexpr uint16_t kGatewayPort = 9000;

// Writes the authorized key (0600 in a 0700 dir).
Status write_authorized_key(const GuestPaths& paths, const std::string& key);
// Merges `managed` (the settings the host manages) into openclaw.json as an RFC 7386 merge
// patch and writes it back (0600 in a 0700 dir).
Status merge_openclaw_config(const GuestPaths& paths, const nlohmann::json& managed);

class GuestBackend final : public AgentBackend {
 public:
  using Note = std::function<void(const std::string&)>;

  // The device identity is rebuilt from this seed for every RPC (DeviceIdentity is move-only
  // and GatewayClient takes the token at construction, which inject-secrets may change).
  using DeviceSeed = std::array<uint8_t, 32>;

  // `gateway` may be null (no profile): gateway methods then report it as unavailable.
  GuestBackend(EventLoop& loop, GuestPaths paths, Service* gateway,
               std::map<std::string, std::string> profile_env, DeviceSeed device_seed,
               std::string gateway_token, Note note, std::function<void()> request_shutdown);

  nlohmann::json inject_secrets(const nlohmann::json& secrets) override;
  nlohmann::json ensure_gateway() override;
  nlohmann::json get_stats() override;
  nlohmann::json get_logs(LogService service) override;
  nlohmann::json set_time(int64_t timestamp_ms) override;
  void get_cron_schedules(ReplyFn done) override;
  void poke_cron(ReplyFn done) override;
  void get_heartbeat_schedule(ReplyFn done) override;
  void get_active_connections(ReplyFn done) override;
  nlohmann::json hold_acquire(const std::string& hold_id, int64_t ttl_ms) override;
  nlohmann::json hold_release(const std::string& hold_id) override;
  nlohmann::json shutdown() override;

  const std::string& gateway_token() const { return gateway_token_; }

 private:
  // Runs `rpc` on the worker with a fresh client; `finish` gets its result on the loop thread.
  template <typename T>
  void with_gateway(std::function<Result<T>(GatewayClient&)> rpc,
                    std::function<void(Result<T>)> finish, ReplyFn& done);
  bool gateway_running() const { return gateway_ != nullptr && gateway_->running(); }
  void arm_cron_poke(const std::string& id, int64_t delay_ms);

  EventLoop& loop_;
  GuestPaths paths_;
  Service* gateway_;
  std::map<std::string, std::string> profile_env_;
  DeviceSeed device_seed_;
  std::string gateway_token_;
  Note note_;
  std::function<void()> request_shutdown_;
  nlohmann::json secrets_ = nlohmann::json::object();
  HoldTable holds_;
  std::map<std::string, EventLoop::TimerId> cron_pokes_;
  std::unique_ptr<RpcWorker> worker_;  // last: joined first on destruction
};

// Environment for the gateway: profile env, then HOME, PATH, OPENCLAW_GATEWAY_TOKEN/PORT.
std::vector<std::string> gateway_environment(const std::map<std::string, std::string>& profile_env,
                                             const std::string& gateway_token);

}  // namespace lobster::guest
