#include "probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "core/unique_fd.h"

namespace lobster::e2e {

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kConnected:
      return "connected";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kOther:
      return "other";
  }
  return "other";
}

namespace {

// Runs in a forked child: connect with a deadline, read the greeting. Writes
// "<outcome>\n<peer>" to `out_fd`. Only async-signal-safe-ish calls after fork in a
// single-threaded test process.
void child_probe(int out_fd, const std::string& ip, uint16_t port, int timeout_ms) {
  auto report = [out_fd](Outcome o, const char* peer) {
    char buf[128];
    int n = std::snprintf(buf, sizeof buf, "%d\n%s", static_cast<int>(o), peer);
    if (n > 0) {
      (void)!::write(out_fd, buf, static_cast<size_t>(n));
    }
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  // Kernel ABI: connect() takes a sockaddr*; sockaddr_in is its AF_INET layout.
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  if (rc < 0 && errno != EINPROGRESS) {
    report(errno == ECONNREFUSED                             ? Outcome::kRefused
           : (errno == ENETUNREACH || errno == EHOSTUNREACH) ? Outcome::kUnreachable
                                                             : Outcome::kOther,
           "");
    return;
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    report(Outcome::kTimeout, "");
    return;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    report(err == ECONNREFUSED                           ? Outcome::kRefused
           : (err == ENETUNREACH || err == EHOSTUNREACH) ? Outcome::kUnreachable
           : err == ETIMEDOUT                            ? Outcome::kTimeout
                                                         : Outcome::kOther,
           "");
    return;
  }
  std::array<char, 64> buf{};
  size_t got = 0;
  for (int i = 0; i < 8 && got < buf.size() - 1; ++i) {  // bounded
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, timeout_ms) <= 0) {
      break;
    }
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - 1 - got);
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
    if (std::memchr(buf.data(), '\n', got) != nullptr) {
      break;
    }
  }
  buf[got] = '\0';
  if (char* nl = std::strchr(buf.data(), '\n')) {
    *nl = '\0';
  }
  report(Outcome::kConnected, buf.data());
}

// Forks, optionally enters `ns_fd`, drops to `uid`, runs the probe; parses the child's report.
Result<ProbeResult> fork_probe(int ns_fd, const std::string& ip, uint16_t port, uid_t uid,
                               int timeout_ms) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) {
    return errno_error(ErrorCode::kInternal, "pipe");
  }
  UniqueFd rd(pipefd[0]);
  UniqueFd wr(pipefd[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return errno_error(ErrorCode::kInternal, "fork");
  }
  if (pid == 0) {
    ::alarm(30);  // a stuck probe must not outlive the test
    if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) < 0) {
      ::_exit(10);
    }
    if (uid != 0 && (::setgroups(0, nullptr) < 0 || ::setgid(uid) < 0 || ::setuid(uid) < 0)) {
      ::_exit(11);
    }
    child_probe(wr.get(), ip, port, timeout_ms);
    ::_exit(0);
  }
  wr.reset();
  std::string out;
  std::array<char, 256> buf{};
  for (;;) {
    ssize_t n = ::read(rd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty()) {
    return make_error(ErrorCode::kInternal, "probe child for {}:{} failed (status {})", ip, port,
                      status);
  }
  ProbeResult r;
  size_t nl = out.find('\n');
  r.outcome = static_cast<Outcome>(std::atoi(out.substr(0, nl).c_str()));
  r.peer_seen = nl == std::string::npos ? "" : out.substr(nl + 1);
  return r;
}

[[noreturn]] void serve(const std::vector<uint16_t>& ports) {
  ::alarm(600);  // never outlive a hung test run
  std::vector<pollfd> fds;
  for (uint16_t port : ports) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    // Kernel ABI: bind() takes a sockaddr*; sockaddr_in is its AF_INET layout.
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || ::listen(fd, 64) < 0) {
      ::_exit(20);
    }
    fds.push_back(pollfd{fd, POLLIN, 0});
  }
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      continue;
    }
    for (auto& p : fds) {
      if ((p.revents & POLLIN) == 0) {
        continue;
      }
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      // Kernel ABI: accept() fills a sockaddr_in for AF_INET sockets.
      int c = ::accept4(p.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      char line[INET_ADDRSTRLEN + 2] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, line, INET_ADDRSTRLEN);
      size_t n = std::strlen(line);
      line[n] = '\n';
      (void)!::write(c, line, n + 1);
      ::close(c);
    }
  }
}

}  // namespace

Result<std::unique_ptr<NetnsEndpoint>> NetnsEndpoint::create(std::string name) {
  auto ns = LOB_TRY(net::testing::Netns::create());
  return std::unique_ptr<NetnsEndpoint>(new NetnsEndpoint(std::move(name), std::move(ns)));
}

NetnsEndpoint::~NetnsEndpoint() {
  for (pid_t pid : listeners_) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

Result<ProbeResult> NetnsEndpoint::tcp_probe(const std::string& ip, uint16_t port, uid_t uid,
                                             int timeout_ms) {
  return fork_probe(ns_.fd(), ip, port, uid, timeout_ms);
}

Status NetnsEndpoint::listen(const std::vector<uint16_t>& ports) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) < 0) {
    return errno_error(ErrorCode::kInternal, "pipe");
  }
  UniqueFd rd(pipefd[0]);
  UniqueFd wr(pipefd[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return errno_error(ErrorCode::kInternal, "fork listener");
  }
  if (pid == 0) {
    if (::setns(ns_.fd(), CLONE_NEWNET) < 0) {
      ::_exit(21);
    }
    // Tell the parent we are in place before binding; bind errors exit the child.
    (void)!::write(wr.get(), "r", 1);
    serve(ports);
  }
  listeners_.push_back(pid);
  wr.reset();
  char c = 0;
  if (::read(rd.get(), &c, 1) != 1) {
    return make_error(ErrorCode::kInternal, "listener in {} did not start", name_);
  }
  // Wait (bounded) until every port accepts, so probes never race the bind.
  for (uint16_t port : ports) {
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      auto r = fork_probe(ns_.fd(), "127.0.0.1", port, 0, 200);
      up = r.has_value() && r->outcome == Outcome::kConnected;
      if (!up) {
        ::usleep(10'000);
      }
    }
    if (!up) {
      return make_error(ErrorCode::kInternal, "listener {}:{} not reachable", name_, port);
    }
  }
  return ok();
}

Result<ProbeResult> tcp_probe_here(const std::string& ip, uint16_t port, uid_t uid,
                                   int timeout_ms) {
  return fork_probe(-1, ip, port, uid, timeout_ms);
}

}  // namespace lobster::e2e
