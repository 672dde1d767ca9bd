// lobster_fake_firecracker: stands in for `jailer` (and the Firecracker it would exec) in unit
// tests; see fake_firecracker.h. Exit codes: 0 after SendCtrlAltDel, 64 for a bad command line
// (like a jailer that rejects its argv), 70 for an internal error, or the plan's exit_status.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/fs.h"
#include "vmm/firecracker/testing/fake_firecracker.h"

namespace ft = lobster::vmm::firecracker::testing;

namespace {

int usage(const std::string& why) {
  std::fprintf(stderr, "fake jailer: %s\n", why.c_str());
  return 64;
}

std::string base_name(const std::string& p) {
  const size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> single;
  std::vector<std::string> cgroups;
  bool new_pid_ns = false;
  std::string api_sock = "/run/firecracker.socket";
  const std::vector<std::string> valued = {
      "--id",    "--exec-file",      "--uid",          "--gid", "--chroot-base-dir",
      "--netns", "--cgroup-version", "--parent-cgroup"};
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--")
      break;
    if (a == "--new-pid-ns") {
      new_pid_ns = true;
    } else if (a == "--cgroup" && i + 1 < args.size()) {
      const std::string& v = args[++i];
      const size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) {
        return usage("bad --cgroup '" + v + "'");
      }
      cgroups.push_back(v);
    } else if (std::find(valued.begin(), valued.end(), a) != valued.end() && i + 1 < args.size()) {
      if (single.contains(a))
        return usage("duplicate " + a);
      single[a] = args[++i];
    } else {
      return usage("unexpected argument '" + a + "'");
    }
  }
  for (size_t j = i + 1; j < args.size(); ++j) {
    if (args[j] == "--api-sock" && j + 1 < args.size()) {
      api_sock = args[++j];
    } else {
      return usage("unexpected firecracker argument '" + args[j] + "'");
    }
  }
  for (const char* required : {"--id", "--exec-file", "--uid", "--gid", "--chroot-base-dir"}) {
    if (!single.contains(required))
      return usage(std::string("missing ") + required);
  }
  const std::string version =
      single.contains("--cgroup-version") ? single["--cgroup-version"] : "1";
  if (version != "1" && version != "2")
    return usage("bad --cgroup-version " + version);
  for (const auto& c : cgroups) {
    const bool v2_name = c.starts_with("memory.max=") || c.starts_with("cpu.max=");
    const bool v1_name = c.starts_with("memory.limit_in_bytes=") || c.starts_with("cpu.cfs_");
    if ((version == "2" && v1_name) || (version == "1" && v2_name)) {
      return usage("cgroup file '" + c + "' does not exist in cgroup v" + version);
    }
  }
  const std::string exec_name = base_name(single["--exec-file"]);
  if (exec_name.find("firecracker") == std::string::npos ||
      ::access(single["--exec-file"].c_str(), X_OK) != 0) {
    return usage("exec file '" + single["--exec-file"] +
                 "' is not an executable named *firecracker*");
  }
  const std::string base = single["--chroot-base-dir"];
  const std::string id = single["--id"];
  const std::string root = base + "/" + exec_name + "/" + id + "/root";

  auto plan_text = lobster::fs::read_file(ft::plan_path(base));
  ft::FakePlan plan;
  if (plan_text) {
    auto parsed = ft::FakePlan::from_json(nlohmann::json::parse(*plan_text, nullptr, false));
    if (!parsed)
      return usage(parsed.error().message);
    plan = *parsed;
  }
  if (plan.exit_status) {
    std::fprintf(stderr, "fake jailer: injected failure: cannot set up the jail for %s\n",
                 id.c_str());
    return *plan.exit_status;
  }
  if (!lobster::fs::ensure_dir(root, 0700))
    return 70;
  if (new_pid_ns) {
    // Like the jailer: the VMM runs in a child and the parent writes its pid, then exits 0.
    const pid_t child = ::fork();
    if (child < 0)
      return 70;
    if (child > 0) {
      return lobster::fs::write_file_atomic(root + "/" + exec_name + ".pid", std::to_string(child),
                                            0644)
                 ? 0
                 : 70;
    }
  } else if (!lobster::fs::write_file_atomic(root + "/" + exec_name + ".pid",
                                             std::to_string(::getpid()), 0644)) {
    return 70;
  }
  std::fprintf(stdout, "fake firecracker %s: serial console\n", id.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "fake firecracker %s: pid %d\n", id.c_str(), static_cast<int>(::getpid()));
  if (plan.vmm_exit_status) {
    std::fprintf(stderr, "fake firecracker %s: injected VMM failure\n", id.c_str());
    return *plan.vmm_exit_status;
  }
  if (plan.no_socket) {
    for (;;) ::pause();  // the driver must time out and kill us
  }
  auto validator = ft::SwaggerValidator::from_file(LOBSTER_FC_SWAGGER_PATH);
  if (!validator) {
    std::fprintf(stderr, "fake firecracker: %s\n", validator.error().message.c_str());
    return 70;
  }
  const std::string sock = api_sock.front() == '/' ? root + api_sock : root + "/" + api_sock;
  ft::FakeFirecrackerServer server(std::move(*validator), plan, root, id,
                                   ft::request_log_path(base, id));
  auto served = server.serve(sock);
  if (!served) {
    std::fprintf(stderr, "fake firecracker: %s\n", served.error().message.c_str());
    return 70;
  }
  return 0;
}
