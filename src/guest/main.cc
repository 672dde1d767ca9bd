// lobster-init: PID 1 of every lobsterd guest (guest contract: /work/notes/guest-contract.md).
// Boot: mounts, end of the boot-time lockup panic, config disk, hostname, clock, network,
// secrets files; then one event loop runs the agent (ports 52/53), supervises dropbear and the
// gateway, reaps zombies and handles ctrl-alt-del (SIGINT), ACPI power (SIGPWR), SIGTERM and
// the `shutdown` agent method.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "core/fs.h"
#include "core/unique_fd.h"
#include "guest/agent_server.h"
#include "guest/guest_backend.h"
#include "guest/guest_config.h"
#include "guest/log_file.h"
#include "guest/netconf.h"
#include "guest/pid1.h"
#include "guest/supervisor.h"

namespace lobster::guest {
namespace {

constexpr const char* kProfilePath = "/etc/lobster/profile.json";
constexpr int64_t kStopGraceMs = 5'000;

class Init {
 public:
  int run();

 private:
  void note(const std::string& msg);
  void console(const std::string& msg);
  [[noreturn]] void fatal(const std::string& msg);
  Status boot_files(const GuestConfig& cfg);
  Status setup_signals();
  void on_signal();
  void begin_shutdown(const std::string& why);
  void maybe_finish_shutdown();

  GuestPaths paths_;
  std::unique_ptr<RotatingLog> agent_log_;
  std::unique_ptr<EventLoop> loop_;
  UniqueFd signal_fd_;
  std::unique_ptr<Service> gateway_;
  std::unique_ptr<Service> dropbear_;
  bool shutting_down_ = false;
};

void Init::console(const std::string& msg) {
  std::string line = "lobster-init: " + msg + "\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void Init::note(const std::string& msg) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  char stamp[32];
  std::snprintf(stamp, sizeof(stamp), "%lld.%03ld ", static_cast<long long>(ts.tv_sec),
                ts.tv_nsec / 1'000'000);
  if (agent_log_) {
    agent_log_->append(std::string(stamp) + msg + "\n");
  }
  console(msg);
}

void Init::fatal(const std::string& msg) {
  note("fatal: " + msg);
  power_off([this](const std::string& m) { note(m); });
  std::_Exit(1);  // not PID 1 (started by hand for testing)
}

Status Init::boot_files(const GuestConfig& cfg) {
  if (!cfg.ssh_authorized_key.empty()) {
    LOB_TRY(write_authorized_key(paths_, cfg.ssh_authorized_key));
  }
  if (!cfg.ssh_host_key.empty()) {
    LOB_TRY(fs::ensure_dir(paths_.dropbear_dir, 0700));
    LOB_TRY(fs::write_file_atomic(paths_.dropbear_host_key(), cfg.ssh_host_key, 0600));
  }
  LOB_TRY(merge_openclaw_config(paths_, cfg.openclaw_config));
  return ok();
}

Status Init::setup_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGPWR, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaddset(&set, s);
  }
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    return errno_error(ErrorCode::kInternal, "sigprocmask");
  }
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) {
    return errno_error(ErrorCode::kInternal, "signalfd");
  }
  // Ctrl-alt-del sends SIGINT to PID 1 instead of an immediate reboot.
  if (::getpid() == 1) {
    ::reboot(RB_DISABLE_CAD);
  }
  return loop_->add(signal_fd_.get(), EPOLLIN, [this](uint32_t) { on_signal(); });
}

void Init::on_signal() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    switch (info.ssi_signo) {
      case SIGCHLD:
        reap_children([this](pid_t pid, int status) {
          if (gateway_ && gateway_->handle_exit(pid, status)) {
            return;
          }
          if (dropbear_) {
            dropbear_->handle_exit(pid, status);
          }
        });
        if (shutting_down_) {
          maybe_finish_shutdown();
        }
        break;
      case SIGINT:
        begin_shutdown("ctrl-alt-del");
        break;
      case SIGPWR:
        begin_shutdown("power button");
        break;
      case SIGTERM:
        begin_shutdown("SIGTERM");
        break;
      default:
        break;  // SIGHUP etc. are ignored by PID 1
    }
  }
}

void Init::begin_shutdown(const std::string& why) {
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  note("shutdown (" + why + "): stopping services");
  if (gateway_) {
    gateway_->stop(SIGTERM);
  }
  if (dropbear_) {
    dropbear_->stop(SIGTERM);
  }
  loop_->add_timer(kStopGraceMs, [this] {
    note("services did not stop within 5 s: killing");
    if (::getpid() == 1) {
      ::kill(-1, SIGKILL);
    }
    loop_->stop();
  });
  maybe_finish_shutdown();
}

void Init::maybe_finish_shutdown() {
  bool running = (gateway_ && gateway_->running()) || (dropbear_ && dropbear_->running());
  if (!running) {
    loop_->stop();
  }
}

int Init::run() {
  auto note_fn = [this](const std::string& m) { note(m); };
  mount_early_filesystems(note_fn);
  end_boot_lockup_panic(note_fn);
  ::umask(022);
  if (auto st = fs::ensure_dir(paths_.log_dir, 0700); !st) {
    console("log dir: " + st.error().message);
  }
  agent_log_ = std::make_unique<RotatingLog>(paths_.log("agent"), 1 << 20);
  note("starting");

  auto dev = find_config_device();
  if (!dev) {
    fatal(dev.error().message);
  }
  auto raw = read_config_device(*dev);
  if (!raw) {
    fatal(raw.error().message);
  }
  auto parsed = parse_config_disk(*raw);
  std::fill(raw->begin(), raw->end(), '\0');
  if (!parsed) {
    fatal(parsed.error().message);
  }
  GuestConfig cfg = std::move(*parsed);

  if (::sethostname(cfg.hostname.c_str(), cfg.hostname.size()) != 0) {
    note("sethostname failed");
  }
  set_clock_floor(cfg.host_time_ms, note_fn);
  if (auto st = configure_network(cfg.network); !st) {
    fatal("network: " + st.error().message);
  }
  if (auto st = boot_files(cfg); !st) {
    note("writing boot files: " + st.error().message);
  }

  auto loop = EventLoop::create();
  if (!loop) {
    fatal(loop.error().message);
  }
  loop_ = std::move(*loop);
  if (auto st = setup_signals(); !st) {
    fatal(st.error().message);
  }

  // Dropbear: guest IP only, foreground, log to stderr (our pipe), no passwords, no forwarding.
  std::vector<std::string> db = {"/usr/sbin/dropbear",       "-F", "-E", "-s", "-j", "-k", "-p",
                                 cfg.network.address + ":22"};
  if (cfg.ssh_host_key.empty()) {
    db.push_back("-R");  // generate a key on first connection rather than run without one
  } else {
    db.insert(db.end(), {"-r", paths_.dropbear_host_key()});
  }
  dropbear_ = std::make_unique<Service>(
      *loop_,
      ServiceSpec{.name = "dropbear",
                  .argv = db,
                  .env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
                  .cwd = "/",
                  .log_path = paths_.log("dropbear")},
      note_fn);
  // A spawn failure is already noted by the Service and retried with backoff.
  (void)dropbear_->start();

  std::map<std::string, std::string> profile_env;
  if (auto text = fs::read_file(kProfilePath)) {
    if (auto profile = parse_profile(*text)) {
      profile_env = profile->env;
      gateway_ = std::make_unique<Service>(
          *loop_,
          ServiceSpec{.name = "gateway",
                      .argv = profile->argv,
                      .env = gateway_environment(profile_env, cfg.gateway_token),
                      .cwd = profile->cwd,
                      .log_path = paths_.log("gateway")},
          note_fn);
    } else {
      note(profile.error().message);
    }
  } else {
    note("no gateway: " + text.error().message);
  }

  GuestBackend::DeviceSeed seed{};
  if (::getrandom(seed.data(), seed.size(), 0) != static_cast<ssize_t>(seed.size())) {
    fatal("getrandom for the device identity failed");
  }
  GuestBackend backend(*loop_, paths_, gateway_.get(), profile_env, seed, cfg.gateway_token,
                       note_fn, [this] { begin_shutdown("agent shutdown"); });
  Dispatcher dispatcher(cfg.agent_token, backend);
  std::fill(cfg.agent_token.begin(), cfg.agent_token.end(), '\0');
  AgentServer server(*loop_, dispatcher);
  for (auto [port, kind] :
       {std::pair{cfg.agent_port, Port::kAgent}, std::pair{cfg.health_port, Port::kHealth}}) {
    if (auto p = server.listen(cfg.network.address, port, kind); !p) {
      fatal(p.error().message);
    }
  }
  if (gateway_ && !cfg.gateway_token.empty()) {
    if (auto st = gateway_->start(); !st) {
      note(st.error().message);
    }
  }
  note("ready");

  if (auto st = loop_->run(); !st) {
    note("event loop: " + st.error().message);
  }
  note("powering off");
  reap_children([](pid_t, int) {});
  power_off(note_fn);
  return 0;
}

}  // namespace
}  // namespace lobster::guest

int main() {
  lobster::guest::Init init;
  return init.run();
}
