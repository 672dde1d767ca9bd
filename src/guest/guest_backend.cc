#include "guest/guest_backend.h"

#include <signal.h>
#include <time.h>

#include <cstring>

#include "core/fs.h"
#include "guest/log_file.h"
#include "guest/proc_stats.h"
#include "guest/protocol.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

constexpr size_t kLogTailChars = 4000;
// Per-method RPC budgets: each stays under the host client's timeout for that method
// (agent_client.h), so the host sees the guest's answer rather than its own timeout.
constexpr int kCronListTimeoutMs = 4'500;
constexpr int kConnectionsCronTimeoutMs = 2'500;
constexpr int kHeartbeatRpcTimeoutMs = 3'000;
constexpr int kPokeListTimeoutMs = 10'000;
constexpr int kCronRunTimeoutMs = 10'000;
// spec §7.3 poke-cron: fire `cron.run {mode:"due"}` 5 s after each job's due time.
constexpr int64_t kPokeSlackMs = 5'000;

int64_t wall_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Status write_authorized_key(const GuestPaths& paths, const std::string& key) {
  LOB_TRY(fs::ensure_dir(paths.ssh_dir, 0700));
  std::string line = key;
  if (line.empty() || line.back() != '\n') {
    line.push_back('\n');
  }
  return fs::write_file_atomic(paths.authorized_keys(), line, 0600);
}

Status merge_openclaw_config(const GuestPaths& paths, const json& managed) {
  LOB_TRY(fs::ensure_dir(paths.openclaw_dir, 0700));
  // Settings made inside the guest (OpenClaw's own `configure`, `config set`) stay; the keys the
  // host manages win. A missing or unreadable file, or one that is not a JSON object, starts
  // from nothing.
  json doc = json::object();
  if (auto text = fs::read_file(paths.openclaw_json()); text) {
    json old = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (old.is_object())
      doc = std::move(old);
  }
  doc.merge_patch(managed);
  return fs::write_file_atomic(
      paths.openclaw_json(), doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n", 0600);
}

std::vector<std::string> gateway_environment(const std::map<std::string, std::string>& profile_env,
                                             const std::string& gateway_token) {
  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"NODE_ENV", "production"},
  };
  for (const auto& [k, v] : profile_env) {
    env[k] = v;
  }
  env["HOME"] = "/root";
  env["OPENCLAW_GATEWAY_TOKEN"] = gateway_token;
  env["OPENCLAW_GATEWAY_PORT"] = std::to_string(kGatewayPort);
  std::vector<std::string> out;
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
  }
  return out;
}

GuestBackend::GuestBackend(EventLoop& loop, GuestPaths paths, Service* gateway,
                           std::map<std::string, std::string> profile_env, DeviceSeed device_seed,
                           std::string gateway_token, Note note,
                           std::function<void()> request_shutdown)
    : loop_(loop),
      paths_(std::move(paths)),
      gateway_(gateway),
      profile_env_(std::move(profile_env)),
      device_seed_(device_seed),
      gateway_token_(std::move(gateway_token)),
      note_(std::move(note)),
      request_shutdown_(std::move(request_shutdown)),
      worker_(std::make_unique<RpcWorker>()) {}

json GuestBackend::inject_secrets(const json& secrets) {
  json warnings = json::array();
  for (const auto& [k, v] : secrets.items()) {
    secrets_[k] = v;
  }
  if (auto key = secrets.find("SSH_AUTHORIZED_KEY"); key != secrets.end() && key->is_string()) {
    if (auto st = write_authorized_key(paths_, key->get<std::string>()); !st) {
      warnings.push_back(st.error().message);
    }
  }
  if (auto cfg = secrets.find("OPENCLAW_CONFIG"); cfg != secrets.end()) {
    json doc = cfg->is_string() ? json::parse(cfg->get<std::string>(), nullptr, false) : *cfg;
    if (doc.is_discarded() || !doc.is_object()) {
      warnings.push_back("OPENCLAW_CONFIG is not a JSON object");
    } else if (auto st = merge_openclaw_config(paths_, doc); !st) {
      warnings.push_back(st.error().message);
    }
  }
  if (auto tok = secrets.find("OPENCLAW_GATEWAY_TOKEN");
      tok != secrets.end() && tok->is_string() && !tok->get_ref<const std::string&>().empty()) {
    bool changed = tok->get<std::string>() != gateway_token_;
    gateway_token_ = tok->get<std::string>();
    if (gateway_ != nullptr) {
      gateway_->set_env(gateway_environment(profile_env_, gateway_token_));
      if (changed && gateway_->running()) {
        // Restarted by the supervisor with the new token.
        ::kill(gateway_->pid(), SIGTERM);
      } else if (!gateway_->running()) {
        (void)gateway_->start();
      }
    }
  }
  for (const auto& w : warnings) {
    note_("inject-secrets: " + w.get<std::string>());
  }
  json r = {{"ok", true}, {"reply", "ACK"}};
  if (!warnings.empty()) {
    r["warnings"] = warnings;
  }
  return r;
}

json GuestBackend::ensure_gateway() {
  if (gateway_token_.empty()) {
    return error_reply("No gateway token available");
  }
  if (gateway_ == nullptr) {
    return error_reply("No gateway configured (/etc/lobster/profile.json)");
  }
  if (gateway_->running()) {
    return {{"ok", true}, {"status", "already-running"}, {"pid", gateway_->pid()}};
  }
  if (auto st = gateway_->start(); !st) {
    return error_reply(st.error().message);
  }
  return {{"ok", true}, {"status", "launched"}, {"pid", gateway_->pid()}};
}

json GuestBackend::get_stats() {
  if (!gateway_running()) {
    return {{"ok", true}, {"gatewayPid", nullptr}, {"memoryKb", 0}};
  }
  int64_t kb = 0;
  if (auto status = fs::read_file("/proc/" + std::to_string(gateway_->pid()) + "/status")) {
    kb = parse_vm_rss_kb(*status);
  }
  return {{"ok", true}, {"gatewayPid", gateway_->pid()}, {"memoryKb", kb}};
}

json GuestBackend::get_logs(LogService service) {
  std::string name(log_service_name(service));
  return {
      {"ok", true}, {"service", name}, {"logs", read_log_tail(paths_.log(name), kLogTailChars)}};
}

json GuestBackend::set_time(int64_t timestamp_ms) {
  timespec ts{static_cast<time_t>(timestamp_ms / 1000),
              static_cast<long>((timestamp_ms % 1000) * 1'000'000)};
  if (::clock_settime(CLOCK_REALTIME, &ts) != 0) {
    return error_reply(std::string("Failed to set time: ") + std::strerror(errno));
  }
  return {{"ok", true}};
}

template <typename T>
void GuestBackend::with_gateway(std::function<Result<T>(GatewayClient&)> rpc,
                                std::function<void(Result<T>)> finish, ReplyFn& done) {
  RpcTarget target;
  target.port = kGatewayPort;
  target.token = gateway_token_;
  EventLoop* loop = &loop_;
  bool queued = worker_->submit([loop, target = std::move(target), seed = device_seed_,
                                 rpc = std::move(rpc), finish = std::move(finish)]() mutable {
    std::shared_ptr<Result<T>> result;
    auto id = DeviceIdentity::from_seed(std::span<const uint8_t, 32>(seed));
    if (!id) {
      result = std::make_shared<Result<T>>(std::unexpected<Error>(id.error()));
    } else {
      GatewayClient client(std::move(target), std::move(*id));
      result = std::make_shared<Result<T>>(rpc(client));
    }
    loop->post([finish = std::move(finish), result] { finish(std::move(*result)); });
  });
  if (!queued) {
    done(error_reply("gateway rpc busy"));
  }
}

void GuestBackend::get_cron_schedules(ReplyFn done) {
  if (!gateway_running() || gateway_token_.empty()) {
    done(error_reply("Gateway not running"));
    return;
  }
  with_gateway<std::vector<CronJob>>(
      [](GatewayClient& c) { return c.list_cron_jobs(kCronListTimeoutMs); },
      [done](Result<std::vector<CronJob>> jobs) {
        if (!jobs) {
          done(error_reply("gateway rpc failed: " + jobs.error().message));
          return;
        }
        json list = json::array();
        for (const CronJob& j : *jobs) {
          if (j.enabled && j.next_run_at_ms > 0) {
            list.push_back({{"id", j.id},
                            {"name", j.name.empty() ? j.id : j.name},
                            {"nextRunAtMs", j.next_run_at_ms},
                            {"schedule", j.schedule}});
          }
        }
        done({{"ok", true}, {"schedules", list}});
      },
      done);
}

void GuestBackend::arm_cron_poke(const std::string& id, int64_t delay_ms) {
  if (auto it = cron_pokes_.find(id); it != cron_pokes_.end()) {
    loop_.cancel_timer(it->second);
  }
  cron_pokes_[id] = loop_.add_timer(delay_ms, [this, id] {
    cron_pokes_.erase(id);
    ReplyFn ignore = [](json) {};
    with_gateway<bool>(
        [id](GatewayClient& c) -> Result<bool> {
          LOB_TRY(c.run_cron_job(id, "due", kCronRunTimeoutMs));
          return true;
        },
        [this, id](Result<bool> r) {
          note_("poke-cron: cron.run " + id + (r ? " ok" : " failed: " + r.error().message));
        },
        ignore);
  });
}

void GuestBackend::poke_cron(ReplyFn done) {
  if (!gateway_running() || gateway_token_.empty()) {
    done(error_reply("Gateway not running"));
    return;
  }
  with_gateway<std::vector<CronJob>>(
      [](GatewayClient& c) { return c.list_cron_jobs(kPokeListTimeoutMs); },
      [this, done](Result<std::vector<CronJob>> jobs) {
        if (!jobs) {
          done(error_reply("gateway rpc failed: " + jobs.error().message));
          return;
        }
        int deferred = 0;
        int64_t now = wall_ms();
        for (const CronJob& j : *jobs) {
          if (j.enabled && j.next_run_at_ms > 0) {
            int64_t wait = j.next_run_at_ms - now;
            arm_cron_poke(j.id, (wait > 0 ? wait : 0) + kPokeSlackMs);
            ++deferred;
          }
        }
        done({{"ok", true}, {"deferred", deferred}});
      },
      done);
}

void GuestBackend::get_heartbeat_schedule(ReplyFn done) {
  std::optional<int64_t> interval;
  if (auto text = fs::read_file(paths_.openclaw_json())) {
    json cfg = json::parse(*text, nullptr, false);
    if (!cfg.is_discarded()) {
      interval = heartbeat_interval_from_config(cfg);
    }
  }
  if (!interval || !gateway_running() || gateway_token_.empty()) {
    // No heartbeat configured, or no gateway to ask for the last beat: project from now.
    HeartbeatSchedule h = compute_heartbeat_schedule(interval, 0, wall_ms());
    done({{"ok", true},
          {"enabled", h.enabled},
          {"intervalMs", h.interval_ms},
          {"nextBeatAtMs", h.next_beat_at_ms}});
    return;
  }
  with_gateway<int64_t>(
      [](GatewayClient& c) { return c.last_heartbeat_ms(kHeartbeatRpcTimeoutMs); },
      [done, interval](Result<int64_t> last) {
        // spec §7.3: the last-heartbeat RPC is best effort (raced against 3 s).
        HeartbeatSchedule h = compute_heartbeat_schedule(interval, last ? *last : 0, wall_ms());
        done({{"ok", true},
              {"enabled", h.enabled},
              {"intervalMs", h.interval_ms},
              {"nextBeatAtMs", h.next_beat_at_ms}});
      },
      done);
}

void GuestBackend::get_active_connections(ReplyFn done) {
  int tcp = 0;
  for (const std::string* path : {&paths_.proc_net_tcp, &paths_.proc_net_tcp6}) {
    if (auto text = fs::read_file(*path)) {
      tcp += count_established_inbound(*text, kGatewayPort);
    }
  }
  int hold = holds_.count(wall_ms());
  if (!gateway_running() || gateway_token_.empty()) {
    done({{"ok", true}, {"tcp", tcp}, {"cron", 0}, {"hold", hold}});
    return;
  }
  with_gateway<std::vector<CronJob>>(
      [](GatewayClient& c) { return c.list_cron_jobs(kConnectionsCronTimeoutMs); },
      [done, tcp, hold](Result<std::vector<CronJob>> jobs) {
        int cron = 0;
        json r = {{"ok", true}, {"tcp", tcp}, {"hold", hold}};
        if (jobs) {
          for (const CronJob& j : *jobs) {
            if (j.enabled && j.running_at_ms > 0) {
              cron = 1;
            }
          }
        } else {
          r["cronError"] = jobs.error().message;
        }
        r["cron"] = cron;
        done(std::move(r));
      },
      done);
}

json GuestBackend::hold_acquire(const std::string& hold_id, int64_t ttl_ms) {
  if (!holds_.acquire(hold_id, ttl_ms, wall_ms())) {
    return error_reply("Too many holds");
  }
  return {{"ok", true}};
}

json GuestBackend::hold_release(const std::string& hold_id) {
  return {{"ok", true}, {"released", holds_.release(hold_id)}};
}

json GuestBackend::shutdown() {
  note_("shutdown requested by the host agent client");
  // Let the reply leave before the guest starts stopping services.
  loop_.add_timer(100, request_shutdown_);
  return {{"ok", true}, {"reply", "ACK"}};
}

}  // namespace lobster::guest
