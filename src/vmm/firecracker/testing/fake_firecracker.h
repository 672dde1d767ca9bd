// FakeFirecracker (test-only): a stand-in for `jailer` + `firecracker` on hosts that cannot run
// Firecracker. The driver spawns the fake binary (fake_firecracker_main.cc) in place of the
// jailer; it parses the jailer argv strictly, lays out the chroot like the jailer, writes the
// pid file, and serves the API on <chroot>/api.socket. Every request is validated against the
// official swagger and recorded (JSON lines), and a small state machine answers like Firecracker
// (pre-boot vs running vs paused, snapshot files written into the chroot).
//
// Faults come from <chroot-base-dir>/fake-firecracker.json (FakePlan), so tests steer the fake
// without touching the driver:
//   {"fail": {"method": "PUT", "path": "/drives/drive0", "message": "No such file"}}
//   {"no_socket": true}              never create api.socket (the driver must time out)
//   {"exit_status": 3}               exit before creating the socket (early exit)
//   {"ignore_ctrl_alt_del": true}    keep running after SendCtrlAltDel (stop must SIGKILL)
//   {"vmm_exit_status": 5}           the jailer succeeds, then the VMM exits before the socket
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.h"
#include "vmm/firecracker/testing/swagger_validator.h"

namespace lobster::vmm::firecracker::testing {

struct FakePlan {
  std::string fail_method;  // answer this call with 400 + fault_message
  std::string fail_path;
  std::string fail_message = "injected fault";
  bool no_socket = false;
  std::optional<int> exit_status;
  bool ignore_ctrl_alt_del = false;
  std::optional<int> vmm_exit_status;  // the VMM (after the jailer's fork) exits with this
  static Result<FakePlan> from_json(const nlohmann::json& j);
};

// Where the fake writes what it received: one JSON object per line
// {"method","path","body","valid","error","status"}.
std::string request_log_path(const std::string& chroot_base_dir, const std::string& vm_id);
std::string plan_path(const std::string& chroot_base_dir);

class FakeFirecrackerServer {
 public:
  // `root`: the chroot directory on the host; API paths in bodies are resolved under it.
  FakeFirecrackerServer(SwaggerValidator validator, FakePlan plan, std::string root,
                        std::string vm_id, std::string record_path);

  // Binds `socket_path` and serves until SendCtrlAltDel (unless ignored) or a fatal error.
  Status serve(const std::string& socket_path);

  // Handles one request (no I/O besides snapshot files and the record). Exposed for tests.
  std::pair<int, std::string> handle(const std::string& method, const std::string& target,
                                     const std::string& body);
  bool shutdown_requested() const { return shutdown_; }

 private:
  std::pair<int, std::string> dispatch(const std::string& method, const std::string& path,
                                       const nlohmann::json& body);
  void record(const std::string& method, const std::string& target, const std::string& body,
              const Status& valid, int status);

  SwaggerValidator validator_;
  FakePlan plan_;
  std::string root_;
  std::string vm_id_;
  std::string record_path_;
  std::string state_ = "Not started";
  bool boot_source_ = false;
  bool configured_ = false;  // any resource other than logger/metrics configured
  int64_t mem_size_mib_ = 128;
  bool shutdown_ = false;
  nlohmann::json note_;  // extra facts for the next record line (e.g. link counts)
};

}  // namespace lobster::vmm::firecracker::testing
