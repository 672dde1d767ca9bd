// Error model shared by every module.
//
// Every fallible operation returns `Result<T>` (a [[nodiscard]] std::expected<T, Error>).
// `Error` carries a stable `ErrorCode` (its string form is API: CLI `--json`, REST bodies,
// audit log), a message naming the operation and its object, the errno if a syscall failed,
// and `detail` (captured child stderr, a peer's body) for diagnosis. A `hint` tells the
// operator what to do next.
//
//   Result<Tenant> find(std::string_view name) {
//     if (!exists) return make_error(ErrorCode::kTenantNotFound, "tenant '{}' not found", name);
//     ...
//   }
//   auto t = LOB_TRY(find("alice"));
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace lobster {

enum class ErrorCode {
  // --- spec §12 codes (kept for compatibility; their strings are API) ---
  kExecFailed,       // A host command exited non-zero or could not be started.
  kExecTimeout,      // A host command or remote operation ran past its deadline.
  kNotRoot,          // The operation needs uid 0.
  kNotLinux,         // The host OS is not Linux.
  kKvmNotAvailable,  // /dev/kvm missing or a probe VM could not boot (only when KVM is required).
  kFirecrackerNotFound,  // Firecracker binary missing although the firecracker driver was chosen.
  kJailerNotFound,       // Jailer binary missing although the firecracker driver was chosen.
  kJailerSetupFailed,    // Chroot, uid drop or namespace setup for a VMM failed.
  kVmBootFailed,         // The VMM failed to start or configure the guest.
  kVsockConnectFailed,   // The in-guest agent could not be reached (historical name: TCP now).
  kTapCreateFailed,      // Creating or configuring a tenant TAP device failed.
  kCaddyApiError,        // Caddy's admin API refused a request or Caddy is not running.
  kOverlayCreateFailed,  // Creating a tenant's overlay or config disk failed.
  kConfigNotFound,       // The config file could not be read.
  kConfigInvalid,        // The config file is not valid (names the key path).
  kTenantExists,         // A tenant with that name already exists.
  kTenantNotFound,       // No tenant with that name.
  kPermissionDenied,     // The caller is not allowed to do this (socket peer, bearer token).
  kValidationFailed,     // Bad input from the caller (name, flag value, request body).
  kLockFailed,           // A lock could not be taken (state busy).
  kBuoyAlreadyRunning,   // The TCP REST listener's port is already in use.
  kSnapshotFailed,       // Creating or loading a VM snapshot or overlay export failed.
  kSuspendFailed,        // Suspend is impossible in the tenant's current state, or failed.
  kSuspendSkipped,       // Suspend skipped: a cron job or heartbeat is due within the wake-ahead.
  kResumeFailed,         // Resume is impossible in the tenant's current state, or failed.
  kUninitFailed,         // uninit refused or failed.
  kUnknown,              // Anything that fits nowhere else; prefer a specific code.
  // --- lobsterd (C++) additions ---
  kDaemonRunning,       // Another daemon already owns this state root.
  kDaemonNotRunning,    // No daemon answers on the API socket.
  kStoreFailed,         // SQLite returned an error (busy, corrupt, I/O).
  kImageMissing,        // A guest image profile has not been built.
  kImageCorrupt,        // An image artifact does not match its manifest.
  kImageBuildFailed,    // Building a kernel, initramfs or rootfs failed.
  kNetworkFailed,       // A netlink operation (address, link state, sysctl) failed.
  kFirewallFailed,      // Applying, removing or verifying firewall rules failed.
  kCgroupFailed,        // Creating, limiting or removing a cgroup failed.
  kVmmFailed,           // A VMM control operation (QMP, Firecracker API) failed at runtime.
  kAgentUnauthorized,   // The guest agent rejected our token.
  kProtocolError,       // A peer sent malformed data (agent reply, QMP, HTTP).
  kResourceExhausted,   // No free subnet index, uid or similar resource is left.
  kInvalidState,        // The tenant or object is in a state that forbids the operation.
  kIoFailed,            // A file-system operation failed.
  kPreflightFailed,     // A host requirement (binary, kernel feature) is missing.
  kInternal,            // A broken invariant that is not the caller's fault.
  kGatewayUnavailable,  // The OpenClaw gateway's RPC endpoint could not be reached.
  kGatewayRpcFailed,    // The OpenClaw gateway rejected a connect or an RPC request.
  kRouteNotFound,       // No API endpoint for that method and path (e.g. CLI newer than daemon).
  kIngressUnavailable,  // lobsterd's ingress process is not running or not answering.
};

// The stable string for a code ("TENANT_NOT_FOUND"). This is API: never rename.
std::string_view code_name(ErrorCode code);
// Reverse of code_name; kUnknown for unknown strings.
ErrorCode code_from_name(std::string_view name);

// Process exit codes by error class, so scripts can branch without parsing text.
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,      // Operation failed (host, VMM, network, internal).
  kUsage = 2,        // Bad input or configuration: fix the command or the config.
  kNotFound = 3,     // Named object does not exist.
  kConflict = 4,     // Exists already, wrong state, another daemon running.
  kPermission = 5,   // Not root, not in group lobsterd, bad token.
  kUnavailable = 6,  // Daemon, agent, Caddy or KVM not reachable / busy; retry may help.
  kTimeout = 7,      // Deadline exceeded.
};
ExitCode exit_code_for(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kUnknown;
  std::string message;  // "create TAP lt3: EBUSY" — names the operation and its object.
  int sys_errno = 0;    // errno of the failed syscall, 0 if none.
  std::string detail;   // Captured child stderr, a peer's error body, ...
  std::string hint;     // What the operator should do next; may be empty.

  // "CODE: message" plus detail on following lines.
  std::string to_string() const;
};

// Result<T>: std::expected that cannot be silently dropped (libstdc++ 12's is not nodiscard).
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  Result(const std::expected<T, Error>& e) : std::expected<T, Error>(e) {}        // NOLINT
  Result(std::expected<T, Error>&& e) : std::expected<T, Error>(std::move(e)) {}  // NOLINT
};

using Status = Result<void>;

inline std::unexpected<Error> make_error(Error e) { return std::unexpected<Error>(std::move(e)); }

template <typename... Args>
std::unexpected<Error> make_error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected<Error>(Error{code, fmt::format(f, std::forward<Args>(args)...)});
}

// An error for a failed syscall: message "<what>: <strerror>", sys_errno set.
std::unexpected<Error> make_sys_error(ErrorCode code, int err, std::string what);
// Same, reading errno.
inline std::unexpected<Error> errno_error(ErrorCode code, std::string what) {
  return make_sys_error(code, errno, std::move(what));
}

// Attach a hint to an error result on its way out: `return with_hint(std::move(r), "...")`.
inline std::unexpected<Error> with_hint(Error e, std::string hint) {
  e.hint = std::move(hint);
  return std::unexpected<Error>(std::move(e));
}

inline Status ok() { return {}; }

}  // namespace lobster

// Propagate an error from a Result-returning call, or yield its value.
// Only TRY function calls, never lvalues (the value is moved out).
#define LOB_TRY(expr)                                                                   \
  __extension__({                                                                       \
    _Pragma("GCC diagnostic push")                                                      \
        _Pragma("GCC diagnostic ignored \"-Wshadow\"") auto&& lob_try_result_ = (expr); \
    if (!lob_try_result_.has_value()) [[unlikely]]                                      \
      return std::unexpected<::lobster::Error>(std::move(lob_try_result_).error());     \
    _Pragma("GCC diagnostic pop") std::move(lob_try_result_).value();                   \
  })
