// `boxd doctor`'s "local_server" line: when the API URL is on this machine,
// which boxd local server answers there: the boxd-local systemd service
// (`systemctl show boxd-local.service`, its main process's flags), the
// background server of `boxd local start` (its state dir's server.pid and
// server.out), or neither (a foreground `boxd local serve`, another program).
#pragma once

#include <optional>
#include <string>

#include "client/doctor.hpp"

namespace boxd::cli {

// nullopt when the API URL is not a loopback address.
std::optional<client::CheckResult> check_local_server(const std::string& api_url);

// The --port and --state-dir of a `boxd local serve` command line (NUL
// separated, as in /proc/PID/cmdline); defaults 9443 and "" (pure, tests).
struct ServeCommandLine {
  bool is_serve = false;
  int port = 9443;
  std::string state_dir;
};
ServeCommandLine parse_serve_cmdline(const std::string& cmdline);

}  // namespace boxd::cli
