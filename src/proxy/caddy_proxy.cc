#include "proxy/caddy_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/fs.h"
#include "core/log.h"

namespace lobster::proxy {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_exited(int pidfd, int wait_ms) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, wait_ms) > 0;
}

std::string real_path(const std::string& p) {
  std::error_code ec;
  auto r = std::filesystem::canonical(p, ec);
  return ec ? p : r.string();
}

}  // namespace

CaddyProxy::CaddyProxy(ProxyOptions options, CaddyLaunch launch, std::vector<TenantRoute> routes)
    : options_(std::move(options)),
      launch_(std::move(launch)),
      admin_(options_.admin_socket),
      routes_(std::move(routes)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC)) {}

Result<std::unique_ptr<CaddyProxy>> CaddyProxy::start(ProxyOptions options, CaddyLaunch launch,
                                                      std::vector<TenantRoute> routes) {
  std::unique_ptr<CaddyProxy> p(
      new CaddyProxy(std::move(options), std::move(launch), std::move(routes)));
  LOB_TRY(fs::ensure_dir(p->launch_.home_dir, 0700));
  LOB_TRY(fs::ensure_dir(p->options_.storage_dir, 0700));
  {
    std::lock_guard lock(p->mu_);
    LOB_TRY(p->ensure_running_locked());
    LOB_TRY(p->apply_locked());
  }
  if (p->launch_.supervise) {
    p->supervisor_ = std::thread([raw = p.get()] { raw->supervise_loop(); });
  }
  return p;
}

CaddyProxy::~CaddyProxy() {
  stopping_ = true;
  uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof(one));
  if (supervisor_.joinable())
    supervisor_.join();
}

bool CaddyProxy::adopt_locked() {
  auto text = fs::read_file(launch_.pid_file);
  if (!text)
    return false;
  int pid = std::atoi(text->c_str());
  if (pid <= 1)
    return false;
  UniqueFd fd(pidfd_open(pid));
  if (!fd)
    return false;
  // Never trust a bare pid: it must still be our Caddy binary (pid reuse, spec §16 item 9).
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  if (ec || exe.string() != real_path(launch_.caddy_binary))
    return false;
  if (!admin_.reachable())
    return false;
  pidfd_ = std::move(fd);
  pid_ = pid;
  log::info("proxy.caddy_adopted", {{"pid", pid}});
  return true;
}

Status CaddyProxy::spawn_locked() {
  LOB_TRY(fs::write_file_atomic(launch_.config_file, base_config(options_, routes_).dump(2) + "\n",
                                0600));
  ::unlink(options_.admin_socket.c_str());  // a stale socket from a dead Caddy blocks bind
  std::vector<std::string> args = {launch_.caddy_binary, "run", "--config", launch_.config_file};
  std::vector<std::string> env = {
      "HOME=" + launch_.home_dir, "XDG_DATA_HOME=" + launch_.home_dir + "/data",
      "XDG_CONFIG_HOME=" + launch_.home_dir + "/config", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  UniqueFd log_fd(
      ::open(launch_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd)
    return errno_error(ErrorCode::kCaddyApiError, "open " + launch_.log_file);
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  pid_t pid = ::fork();
  if (pid < 0)
    return errno_error(ErrorCode::kCaddyApiError, "fork caddy");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. umask 077 makes the admin socket 0600.
    ::umask(077);
    ::setsid();
    ::dup2(null_fd.get(), STDIN_FILENO);
    ::dup2(log_fd.get(), STDOUT_FILENO);
    ::dup2(log_fd.get(), STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pidfd_ = UniqueFd(pidfd_open(pid));
  pid_ = pid;
  LOB_TRY(fs::write_file_atomic(launch_.pid_file, std::to_string(pid) + "\n", 0600));
  int64_t deadline = mono_ms() + 15'000;
  while (mono_ms() < deadline) {
    if (pidfd_exited(pidfd_.get(), 0)) {
      int status = 0;
      ::waitpid(pid, &status, WNOHANG);
      pid_ = 0;
      pidfd_.reset();
      Error e{ErrorCode::kCaddyApiError,
              fmt::format("caddy exited during start-up (status {})", status)};
      auto tail = fs::read_file(launch_.log_file);
      if (tail)
        e.detail = tail->substr(tail->size() > 2000 ? tail->size() - 2000 : 0);
      e.hint = "see " + launch_.log_file + "; is another server using ports " +
               std::to_string(options_.http_port) + "/" + std::to_string(options_.https_port) + "?";
      return make_error(std::move(e));
    }
    if (admin_.reachable()) {
      // umask 077 already made the socket owner-only (0700); sockets need no x bit.
      ::chmod(options_.admin_socket.c_str(), 0600);
      log::info("proxy.caddy_started", {{"pid", pid}});
      return ok();
    }
    ::usleep(50'000);
  }
  return make_error(ErrorCode::kCaddyApiError, "caddy admin socket {} did not answer within 15 s",
                    options_.admin_socket);
}

Status CaddyProxy::ensure_running_locked() {
  if (pid_ != 0 && pidfd_ && !pidfd_exited(pidfd_.get(), 0))
    return ok();
  if (pid_ != 0) {
    ::waitpid(pid_, nullptr, WNOHANG);  // reap if it was our child
    pid_ = 0;
    pidfd_.reset();
  }
  if (adopt_locked())
    return ok();
  return spawn_locked();
}

Status CaddyProxy::apply_locked() {
  nlohmann::json cfg = base_config(options_, routes_);
  LOB_TRY(fs::write_file_atomic(launch_.config_file, cfg.dump(2) + "\n", 0600));
  return admin_.load(cfg);
}

Status CaddyProxy::add_tenant(const TenantRoute& route) {
  std::lock_guard lock(mu_);
  auto old = routes_;
  std::erase_if(routes_, [&](const TenantRoute& r) { return r.tenant == route.tenant; });
  routes_.push_back(route);
  Status s = apply_locked();
  if (!s) {
    routes_ = old;  // keep memory and the config file in step with what Caddy serves
    (void)fs::write_file_atomic(launch_.config_file, base_config(options_, routes_).dump(2) + "\n",
                                0600);
  }
  return s;
}

Status CaddyProxy::remove_tenant(const std::string& tenant) {
  std::lock_guard lock(mu_);
  auto old = routes_;
  std::erase_if(routes_, [&](const TenantRoute& r) { return r.tenant == tenant; });
  if (routes_.size() == old.size()) {
    return ok();
  }
  Status s = apply_locked();
  if (!s)
    routes_ = old;
  return s;
}

Status CaddyProxy::sync(const std::vector<TenantRoute>& routes) {
  std::lock_guard lock(mu_);
  routes_ = routes;
  LOB_TRY(ensure_running_locked());
  return apply_locked();
}

Result<std::vector<std::string>> CaddyProxy::live_route_ids() { return admin_.route_ids(); }

int CaddyProxy::caddy_pid() const {
  std::lock_guard lock(mu_);
  return pid_;
}

std::string CaddyProxy::ca_root_path() const {
  return options_.storage_dir + "/pki/authorities/local/root.crt";
}

Status CaddyProxy::stop_caddy() {
  stopping_ = true;
  uint64_t one = 1;
  (void)::write(wake_fd_.get(), &one, sizeof(one));
  if (supervisor_.joinable())
    supervisor_.join();
  std::lock_guard lock(mu_);
  if (pid_ == 0 || !pidfd_)
    return ok();
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGTERM, nullptr, 0);
  if (!pidfd_exited(pidfd_.get(), 5000)) {
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    pidfd_exited(pidfd_.get(), 5000);
  }
  ::waitpid(pid_, nullptr, WNOHANG);
  pid_ = 0;
  pidfd_.reset();
  ::unlink(launch_.pid_file.c_str());
  ::unlink(options_.admin_socket.c_str());
  return ok();
}

void CaddyProxy::supervise_loop() {
  int64_t backoff_ms = 100;
  while (!stopping_) {
    int fd;
    {
      std::lock_guard lock(mu_);
      fd = pidfd_ ? pidfd_.get() : -1;
    }
    pollfd p[2] = {{wake_fd_.get(), POLLIN, 0}, {fd, POLLIN, 0}};
    int64_t started = mono_ms();
    int n = ::poll(p, fd >= 0 ? 2 : 1, fd >= 0 ? -1 : static_cast<int>(backoff_ms));
    if (stopping_)
      break;
    if (n < 0 && errno != EINTR)
      break;
    if (fd >= 0 && (p[1].revents & POLLIN) == 0)
      continue;
    log::warn("proxy.caddy_exited", {{"restart_in_ms", backoff_ms}});
    // Sleep on the eventfd so shutdown is not delayed by the backoff.
    pollfd w{wake_fd_.get(), POLLIN, 0};
    ::poll(&w, 1, static_cast<int>(backoff_ms));
    if (stopping_)
      break;
    std::lock_guard lock(mu_);
    Status s = ensure_running_locked();
    if (s)
      s = apply_locked();
    if (!s) {
      log::error("proxy.caddy_restart_failed", {{"error", s.error().to_string()}});
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
    } else if (mono_ms() - started > 30'000) {
      backoff_ms = 100;
    }
  }
}

}  // namespace lobster::proxy
