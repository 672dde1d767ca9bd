#include "daemon/systemd.h"

#include <unistd.h>

#include <cstdint>

#include "core/fs.h"

namespace lobster::daemon {

bool systemd_is_init(const std::string& run_dir) { return fs::exists(run_dir + "/systemd/system"); }

std::string unit_name(const Paths& paths) {
  if (paths.root.empty())
    return "lobsterd.service";
  uint32_t h = 2166136261u;  // FNV-1a: short, stable, no characters systemd would escape
  for (char c : paths.root) {
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  return fmt::format("lobsterd-{:08x}.service", h);
}

std::string unit_text(const Paths& paths, const std::string& binary) {
  std::string root_arg = paths.root.empty() ? "" : " --root " + paths.root;
  return fmt::format(
      "# Written by `lobsterd init`; removed by `lobsterd uninit`.\n"
      "[Unit]\n"
      "Description=lobsterd daemon (state root {})\n"
      "After=network-online.target\n"
      "Wants=network-online.target\n"
      "\n"
      "[Service]\n"
      "Type=simple\n"
      "ExecStart={}{} daemon --foreground\n"
      "Restart=on-failure\n"
      "RestartSec=2\n"
      "# Tenant VMMs must outlive a daemon restart.\n"
      "KillMode=process\n"
      "TimeoutStopSec=10\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      paths.root.empty() ? "/" : paths.root, binary, root_arg);
}

Status install_unit(process::ProcessRunner& runner, const Paths& paths, const std::string& binary,
                    const std::string& unit_dir) {
  std::string name = unit_name(paths);
  LOB_TRY(fs::write_file_atomic(unit_dir + "/" + name, unit_text(paths, binary), 0644));
  LOB_TRY(runner.run_checked({"systemctl", "daemon-reload"}));
  LOB_TRY(runner.run_checked({"systemctl", "enable", "--now", name}));
  return ok();
}

Status remove_unit(process::ProcessRunner& runner, const Paths& paths,
                   const std::string& unit_dir) {
  std::string name = unit_name(paths);
  std::string path = unit_dir + "/" + name;
  if (!fs::exists(path))
    return ok();
  LOB_TRY(runner.run_checked({"systemctl", "disable", "--now", name}));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_error(ErrorCode::kIoFailed, "remove " + path);
  }
  LOB_TRY(runner.run_checked({"systemctl", "daemon-reload"}));
  return ok();
}

Result<std::string> self_executable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0)
    return errno_error(ErrorCode::kIoFailed, "readlink /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace lobster::daemon
