#include "tenant/suspend.h"

#include "core/fs.h"
#include "core/log.h"

namespace lobster::tenant {

using store::TenantStatus;

WakePlan plan_wake(const std::vector<agent::CronSchedule>& cron,
                   const std::optional<agent::HeartbeatSchedule>& heartbeat, int64_t now_ms,
                   int64_t wake_ahead_ms) {
  std::optional<int64_t> cron_at;
  for (const auto& c : cron) {
    if (c.next_run_at_ms > now_ms && (!cron_at || c.next_run_at_ms < *cron_at)) {
      cron_at = c.next_run_at_ms;
    }
  }
  std::optional<int64_t> beat_at;
  if (heartbeat && heartbeat->enabled && heartbeat->next_beat_at_ms > now_ms) {
    beat_at = heartbeat->next_beat_at_ms;
  }
  WakePlan plan;
  if (cron_at) {
    plan.next_wake_at_ms = *cron_at - wake_ahead_ms;
    plan.reason = "cron";
  }
  if (beat_at && (!plan.next_wake_at_ms || *beat_at - wake_ahead_ms <= *plan.next_wake_at_ms)) {
    plan.next_wake_at_ms = *beat_at - wake_ahead_ms;
    plan.reason = "heartbeat";
  }
  return plan;
}

namespace {

void say(const Progress& p, std::string_view step, std::string_view detail) {
  if (p)
    p(step, detail);
}

nlohmann::json suspend_info(const std::vector<agent::CronSchedule>& cron,
                            const std::optional<agent::HeartbeatSchedule>& hb, const WakePlan& wake,
                            const std::string& snapshot_dir, int64_t now_ms) {
  nlohmann::json schedules = nlohmann::json::array();
  for (const auto& c : cron) {
    schedules.push_back({{"id", c.id},
                         {"name", c.name},
                         {"nextRunAtMs", c.next_run_at_ms},
                         {"schedule", c.schedule}});
  }
  nlohmann::json j = {
      {"suspendedAtMs", now_ms},
      {"snapshotDir", snapshot_dir},
      {"cronSchedules", schedules},
      {"nextWakeAtMs",
       wake.next_wake_at_ms ? nlohmann::json(*wake.next_wake_at_ms) : nlohmann::json(nullptr)},
      {"wakeReason", wake.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(wake.reason)}};
  j["heartbeatSchedule"] = hb ? nlohmann::json{{"enabled", hb->enabled},
                                               {"intervalMs", hb->interval_ms},
                                               {"nextBeatAtMs", hb->next_beat_at_ms}}
                              : nlohmann::json(nullptr);
  return j;
}

}  // namespace

Result<SuspendResult> suspend(TenantEnv& env, const std::string& name, const store::Actor& actor,
                              const Progress& progress) {
  store::Tenant t = LOB_TRY(env.store->get_tenant(name));
  if (t.status != TenantStatus::kActive) {
    return make_error(ErrorCode::kSuspendFailed, "tenant \"{}\" is not active (status: {})", name,
                      store::status_name(t.status));
  }
  TenantFacts f = LOB_TRY(facts_for(env, t));
  agent::AgentClient agent = agent_for(env, t, f);
  PhaseTimer timer(*env.clock);
  timer.begin("schedules");
  say(progress, "schedules", "reading cron jobs and heartbeat");
  auto cron = agent.get_cron_schedules();
  auto hb = agent.get_heartbeat_schedule();
  std::vector<agent::CronSchedule> jobs = cron ? *cron : std::vector<agent::CronSchedule>{};
  std::optional<agent::HeartbeatSchedule> beat;
  if (hb)
    beat = *hb;
  int64_t now = env.clock->now_ms();
  WakePlan wake = plan_wake(jobs, beat, now, env.config.watchdog.cron_wake_ahead_ms);
  if (wake.next_wake_at_ms && *wake.next_wake_at_ms <= now) {
    return make_error(ErrorCode::kSuspendSkipped,
                      "next wake ({}) is within the {} ms wake-ahead window, not suspending",
                      wake.reason, env.config.watchdog.cron_wake_ahead_ms);
  }
  timer.begin("record");
  t = LOB_TRY(env.store->update_tenant(name,
                                       {.expect_status = {TenantStatus::kActive},
                                        .status = TenantStatus::kSuspending,
                                        .intent = std::string(R"({"op":"suspend"})")},
                                       actor));
  auto back_to_active = [&](Error e) -> std::unexpected<Error> {
    (void)env.store->update_tenant(name, {.status = TenantStatus::kActive, .intent = std::string()},
                                   actor);
    return make_error(std::move(e));
  };
  auto vm = attach_vm(env, t, f);
  if (!vm)
    return back_to_active(vm.error());
  timer.begin("snapshot");
  say(progress, "snapshot", "pausing and writing the snapshot");
  (void)fs::remove_tree(f.files.snapshot_dir);
  if (Status s = (*vm)->snapshot(f.files.snapshot_dir); !s) {
    (void)(*vm)->resume();  // never leave the guest paused (spec §16 item 7)
    (void)fs::remove_tree(f.files.snapshot_dir);
    return back_to_active(s.error());
  }
  timer.begin("stop");
  say(progress, "stop", "stopping the VMM");
  if (Status s = (*vm)->stop(0); !s) {
    (void)(*vm)->resume();
    (void)fs::remove_tree(f.files.snapshot_dir);
    return back_to_active(s.error());
  }
  timer.begin("cgroup");
  (void)env.cgroups->remove(f.vm_id, 5000);
  timer.begin("finish");
  nlohmann::json info = suspend_info(jobs, beat, wake, f.files.snapshot_dir, now);
  t = LOB_TRY(env.store->update_tenant(name,
                                       {.status = TenantStatus::kSuspended,
                                        .clear_vm = true,
                                        .intent = std::string(),
                                        .suspend_info = info.dump()},
                                       actor));
  log::info("tenant.suspended", {{"tenant", name}, {"wake", wake.reason}});
  return SuspendResult{t, wake, timer.finish()};
}

Result<ResumeResult> resume(TenantEnv& env, const std::string& name, const store::Actor& actor,
                            const Progress& progress) {
  PhaseTimer timer(*env.clock);
  timer.begin("record");
  store::Tenant t = LOB_TRY(env.store->get_tenant(name));
  if (t.status != TenantStatus::kSuspended) {
    return make_error(ErrorCode::kResumeFailed, "tenant \"{}\" is not suspended (status: {})", name,
                      store::status_name(t.status));
  }
  TenantFacts f = LOB_TRY(facts_for(env, t));
  t = LOB_TRY(env.store->update_tenant(name,
                                       {.expect_status = {TenantStatus::kSuspended},
                                        .status = TenantStatus::kResuming,
                                        .intent = std::string(R"({"op":"resume"})")},
                                       actor));
  std::unique_ptr<vmm::Vm> vm;
  auto back_to_suspended = [&](Error e) -> std::unexpected<Error> {
    if (vm)
      (void)vm->stop(0);
    (void)env.cgroups->remove(f.vm_id, 5000);
    (void)env.store->update_tenant(
        name, {.status = TenantStatus::kSuspended, .clear_vm = true, .intent = std::string()},
        actor);
    return make_error(std::move(e));
  };
  timer.begin("restore");
  say(progress, "restore", "restoring the VM from its snapshot");
  auto spec = vm_spec_for(env, t, f);
  if (!spec)
    return back_to_suspended(spec.error());
  auto restored = env.vmm->restore(f.files.snapshot_dir, *spec);
  if (!restored)
    return back_to_suspended(restored.error());
  vm = std::move(*restored);
  const auto& id = vm->identity();
  auto rec = env.store->update_tenant(
      name, {.vm = store::VmProcess{id.pid, static_cast<int64_t>(id.start_time)}}, actor);
  if (!rec)
    return back_to_suspended(rec.error());
  agent::AgentClient agent = agent_for(env, t, f);
  timer.begin("agent");
  say(progress, "agent", "waiting for the guest agent");
  if (Status s = agent.wait_for_agent(30'000); !s)
    return back_to_suspended(s.error());
  // The guest clock stood still while suspended; cron timers armed before may be stale.
  timer.begin("clock");
  say(progress, "clock", "setting the guest clock");
  if (Status s = agent.set_time(env.clock->now_ms()); !s) {
    log::warn("tenant.resume_set_time_failed", {{"tenant", name}, {"error", s.error().message}});
  }
  timer.begin("finish");
  t = LOB_TRY(env.store->update_tenant(
      name,
      {.status = TenantStatus::kActive, .intent = std::string(), .suspend_info = std::string()},
      actor));
  (void)fs::remove_tree(f.files.snapshot_dir);
  log::info("tenant.resumed", {{"tenant", name}, {"pid", id.pid}});
  // Cron timers armed before the suspend may be stale. The guest's gateway can take seconds
  // to answer (it used to hold resume for up to 15 s): poke it in the background, briefly.
  auto poke = [agent, name] {
    if (auto poked = agent.poke_cron(kBackgroundPokeCronMs); !poked) {
      log::info("tenant.resume_poke_cron_skipped",
                {{"tenant", name}, {"error", poked.error().message}});
    }
  };
  if (env.run_in_background) {
    env.run_in_background("poke-cron:" + name, std::move(poke));
  } else {
    poke();
  }
  return ResumeResult{t, timer.finish()};
}

}  // namespace lobster::tenant
