#include "vmm/firecracker/testing/fake_firecracker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "core/fs.h"
#include "core/unique_fd.h"
#include "vmm/firecracker/http.h"

namespace lobster::vmm::firecracker::testing {
namespace {

using nlohmann::json;

std::pair<int, std::string> fault(int status, const std::string& message) {
  return {status, json{{"fault_message", message}}.dump()};
}

void append_line(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << '\n';
}

}  // namespace

Result<FakePlan> FakePlan::from_json(const json& j) {
  FakePlan p;
  if (!j.is_object())
    return make_error(ErrorCode::kValidationFailed, "fake plan: not an object");
  if (auto f = j.find("fail"); f != j.end()) {
    p.fail_method = f->value("method", "");
    p.fail_path = f->value("path", "");
    p.fail_message = f->value("message", p.fail_message);
  }
  p.no_socket = j.value("no_socket", false);
  if (j.contains("exit_status"))
    p.exit_status = j["exit_status"].get<int>();
  p.ignore_ctrl_alt_del = j.value("ignore_ctrl_alt_del", false);
  if (j.contains("vmm_exit_status")) {
    p.vmm_exit_status = j["vmm_exit_status"].get<int>();
  }
  return p;
}

std::string request_log_path(const std::string& chroot_base_dir, const std::string& vm_id) {
  return chroot_base_dir + "/" + vm_id + ".requests.jsonl";
}

std::string plan_path(const std::string& chroot_base_dir) {
  return chroot_base_dir + "/fake-firecracker.json";
}

FakeFirecrackerServer::FakeFirecrackerServer(SwaggerValidator validator, FakePlan plan,
                                             std::string root, std::string vm_id,
                                             std::string record_path)
    : validator_(std::move(validator)),
      plan_(std::move(plan)),
      root_(std::move(root)),
      vm_id_(std::move(vm_id)),
      record_path_(std::move(record_path)) {}

void FakeFirecrackerServer::record(const std::string& method, const std::string& target,
                                   const std::string& body, const Status& valid, int status) {
  json line{{"method", method}, {"path", target}, {"valid", valid.has_value()}, {"status", status}};
  line["body"] = body.empty() ? json() : json::parse(body, nullptr, false);
  if (!valid) {
    line["error"] = valid.error().message;
  }
  line["pid"] = ::getpid();
  if (note_.is_object()) {
    line.update(note_);
  }
  note_ = json();
  append_line(record_path_, line.dump());
}

std::pair<int, std::string> FakeFirecrackerServer::handle(const std::string& method,
                                                          const std::string& target,
                                                          const std::string& body) {
  Status valid = validator_.validate(method, target, body);
  std::pair<int, std::string> reply;
  if (!valid) {
    reply = fault(400, "swagger validation failed: " + valid.error().message);
  } else if (method == plan_.fail_method && target == plan_.fail_path) {
    reply = fault(400, plan_.fail_message);
  } else {
    reply = dispatch(method, target, body.empty() ? json() : json::parse(body));
  }
  record(method, target, body, valid, reply.first);
  return reply;
}

std::pair<int, std::string> FakeFirecrackerServer::dispatch(const std::string& method,
                                                            const std::string& path,
                                                            const json& body) {
  const bool pre_boot = state_ == "Not started";
  auto jail_path = [this](const json& p) { return root_ + p.get<std::string>(); };
  auto must_exist = [&](const json& p, const std::string& what) -> std::optional<std::string> {
    const std::string s = p.get<std::string>();
    if (s.empty() || s.front() != '/')
      return what + " '" + s + "' is not an absolute jail path";
    if (!fs::exists(jail_path(p)))
      return what + " '" + s + "': No such file or directory";
    return std::nullopt;
  };
  if (method == "GET" && path == "/") {
    return {200, json{{"app_name", "Firecracker"},
                      {"id", vm_id_},
                      {"state", state_},
                      {"vmm_version", "1.17.0-dev"}}
                     .dump()};
  }
  if (method == "GET" && path == "/version") {
    return {200, json{{"firecracker_version", "1.17.0-dev"}}.dump()};
  }
  if (path == "/logger" || path == "/metrics") {
    const std::string key = path == "/logger" ? "log_path" : "metrics_path";
    if (!body.contains(key))
      return {204, ""};
    if (auto err = must_exist(body[key], key))
      return fault(400, *err);
    append_line(jail_path(body[key]), "fake firecracker: " + path + " configured");
    return {204, ""};
  }
  if (path == "/actions") {
    const std::string action = body["action_type"].get<std::string>();
    if (action == "InstanceStart") {
      if (!pre_boot)
        return fault(400, "The requested operation is not supported after starting the microVM.");
      if (!boot_source_)
        return fault(400, "Cannot start microvm without kernel configuration.");
      state_ = "Running";
      return {204, ""};
    }
    if (action == "SendCtrlAltDel") {
      if (pre_boot)
        return fault(400, "The requested operation is not supported before starting the microVM.");
      shutdown_ = !plan_.ignore_ctrl_alt_del;
      return {204, ""};
    }
    return {204, ""};  // FlushMetrics
  }
  if (path == "/vm") {
    if (pre_boot)
      return fault(400, "The requested operation is not supported before starting the microVM.");
    state_ = body["state"].get<std::string>() == "Paused" ? "Paused" : "Running";
    return {204, ""};
  }
  if (path == "/snapshot/create") {
    if (state_ != "Paused")
      return fault(400, "Cannot save microVM state: microVM is not paused.");
    const std::string snap = body["snapshot_path"].get<std::string>();
    const std::string mem = body["mem_file_path"].get<std::string>();
    if (snap.front() != '/' || mem.front() != '/')
      return fault(400, "snapshot paths must be absolute");
    Status a = fs::write_file_atomic(
        root_ + snap, json{{"vm_id", vm_id_}, {"mem_size_mib", mem_size_mib_}}.dump());
    Status b =
        fs::write_file_atomic(root_ + mem, "FAKE-GUEST-MEMORY " + std::to_string(mem_size_mib_));
    if (!a || !b)
      return fault(500, "cannot write snapshot files");
    return {204, ""};
  }
  if (path == "/snapshot/load") {
    if (!pre_boot || configured_)
      return fault(
          400, "Loading a microVM snapshot not allowed after configuring boot-specific resources.");
    if (auto err = must_exist(body["snapshot_path"], "snapshot_path"))
      return fault(400, *err);
    const json mem =
        body.contains("mem_backend") ? body["mem_backend"]["backend_path"] : body["mem_file_path"];
    if (auto err = must_exist(mem, "memory file"))
      return fault(400, *err);
    // The driver must hard-link snapshots into the jail, never copy them.
    struct stat st {};
    if (::stat(jail_path(body["snapshot_path"]).c_str(), &st) == 0) {
      note_ = json{{"snapshot_nlink", st.st_nlink}};
    }
    auto state = fs::read_file(jail_path(body["snapshot_path"]));
    auto parsed = json::parse(state ? *state : "", nullptr, false);
    if (parsed.is_discarded())
      return fault(400, "snapshot file is corrupt");
    mem_size_mib_ = parsed.value("mem_size_mib", int64_t{0});
    state_ = body.value("resume_vm", false) ? "Running" : "Paused";
    return {204, ""};
  }
  if (!pre_boot) {
    return fault(400, "The requested operation is not supported after starting the microVM.");
  }
  configured_ = true;
  if (path == "/machine-config") {
    mem_size_mib_ = body["mem_size_mib"].get<int64_t>();
    return {204, ""};
  }
  if (path == "/boot-source") {
    if (auto err = must_exist(body["kernel_image_path"], "kernel"))
      return fault(400, *err);
    if (body.contains("initrd_path")) {
      if (auto err = must_exist(body["initrd_path"], "initrd"))
        return fault(400, *err);
    }
    boot_source_ = true;
    return {204, ""};
  }
  if (path.starts_with("/drives/")) {
    if (auto err = must_exist(body["path_on_host"], "drive"))
      return fault(400, *err);
    return {204, ""};
  }
  return {204, ""};  // network interfaces and other pre-boot devices: accepted
}

Status FakeFirecrackerServer::serve(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInternal, "socket path too long: {}", socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener)
    return errno_error(ErrorCode::kIoFailed, "socket");
  // Kernel ABI: sockaddr_un is a valid sockaddr for AF_UNIX sockets.
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kIoFailed, "bind " + socket_path);
  }
  if (::listen(listener.get(), 16) != 0)
    return errno_error(ErrorCode::kIoFailed, "listen");
  while (!shutdown_) {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kIoFailed, "accept");
    }
    std::string buffer;
    char chunk[16384];
    while (!shutdown_) {
      auto req = parse_request(buffer);
      if (!req) {
        const std::string wire =
            format_response(400, json{{"fault_message", req.error().message}}.dump());
        (void)::send(conn.get(), wire.data(), wire.size(), MSG_NOSIGNAL);
        break;
      }
      if (*req) {
        auto [status, reply] = handle((*req)->method, (*req)->target, (*req)->body);
        const std::string wire = format_response(status, reply);
        if (::send(conn.get(), wire.data(), wire.size(), MSG_NOSIGNAL) < 0)
          break;
        continue;
      }
      const ssize_t r = ::recv(conn.get(), chunk, sizeof(chunk), 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      buffer.append(chunk, static_cast<size_t>(r));
    }
  }
  ::unlink(socket_path.c_str());
  return ok();
}

}  // namespace lobster::vmm::firecracker::testing
