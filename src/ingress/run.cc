#include "ingress/run.h"

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "api/client.h"
#include "core/config.h"
#include "core/log.h"
#include "host/net/subnet.h"
#include "ingress/server.h"
#include "proxy/caddy_config.h"
#include "store/sqlite_store.h"

namespace lobster::ingress {
namespace {

// Looks tenants up in the daemon's store. SqliteStore is safe across processes (WAL); the
// ingress only reads.
class StoreDirectory final : public TenantDirectory {
 public:
  StoreDirectory(store::Store& store, net::Ipv4 base) : store_(store), base_(base) {}
  Result<TenantTarget> lookup(const std::string& tenant) override {
    store::Tenant t = LOB_TRY(store_.get_tenant(tenant));
    net::Subnet s =
        LOB_TRY(net::subnet_for_index(base_, static_cast<uint32_t>(t.alloc.subnet_index)));
    return TenantTarget{.status = t.status, .address = s.guest.to_string()};
  }

 private:
  store::Store& store_;
  net::Ipv4 base_;
};

// Resumes through the daemon's API, like `lobsterd resume NAME`.
class ApiWaker final : public Waker {
 public:
  explicit ApiWaker(std::string socket) : socket_(std::move(socket)) {}
  Status resume(const std::string& tenant, int timeout_ms) override {
    api::ApiClient client(socket_, timeout_ms);
    auto r = client.post("/v1/tenants/" + tenant + "/resume", nlohmann::json::object());
    if (!r)
      return make_error(r.error());
    return ok();
  }

 private:
  std::string socket_;
};

}  // namespace

IngressOptions options_for(const Paths& paths, const Config& config) {
  IngressOptions options;
  options.listen_socket = paths.ingress_socket();
  options.control_socket = paths.ingress_control_socket();
  options.domain = config.caddy.domain;
  options.wake_timeout_ms = config.ingress.wake_timeout_ms;
  options.max_waiting_per_tenant = config.ingress.max_waiting_per_tenant;
  // Same rule as Caddy's config (proxy/caddy_config.h): only then does Caddy ask.
  proxy::ProxyOptions caddy;
  caddy.domain = config.caddy.domain;
  caddy.tls_cert_path = config.caddy.tls_cert_path;
  caddy.tls_key_path = config.caddy.tls_key_path;
  if (proxy::uses_on_demand_tls(caddy))
    options.ask_port = config.ingress.ask_port;
  return options;
}

Status run_ingress(const Paths& paths) {
  ::signal(SIGPIPE, SIG_IGN);
  LOB_TRY(log::init_file(paths.log_dir + "/ingress.log"));
  Config config = LOB_TRY(load_config(paths));
  net::Ipv4 base = LOB_TRY(net::parse_ipv4(config.network.subnet_base));
  SystemClock clock;
  auto store = LOB_TRY(store::SqliteStore::open(paths.db_file(), clock));
  StoreDirectory directory(*store, base);
  ApiWaker waker(paths.api_socket());
  IngressOptions options = options_for(paths, config);

  // SIGTERM/SIGINT are taken by a thread that stops the server; block them everywhere else.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto server = LOB_TRY(IngressServer::create(options, directory, waker, clock));
  std::thread stopper([&] {
    int sig = 0;
    ::sigwait(&stop_signals, &sig);
    log::info("ingress.stopping", {{"signal", sig}});
    server->stop();
  });
  server->serve();
  ::pthread_kill(stopper.native_handle(), SIGTERM);  // serve() ended on its own: end the waiter
  stopper.join();
  ::unlink(options.listen_socket.c_str());
  ::unlink(options.control_socket.c_str());
  return ok();
}

}  // namespace lobster::ingress
