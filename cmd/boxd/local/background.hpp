// The files of a background `boxd local` server (started by `local start`),
// all in its state dir: server.pid, server.out (the contract lines its
// `serve` printed: api_url, exchange_url, ...) and server.log (stderr).
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace boxd::cli {

std::filesystem::path resolve_local_state_dir(const std::filesystem::path& flag);

struct BackgroundServer {
  int pid = 0;                              // from server.pid (0 = none)
  bool running = false;                     // that pid is alive and is a `boxd local serve`
  std::map<std::string, std::string> info;  // "api_url" -> "http://...", ...
  bool ready = false;                       // server.out ends with "ready"
};

BackgroundServer read_background_server(const std::filesystem::path& state_dir);

// GET /healthz on the exchange URL's host:port answers 200 "ok".
bool local_server_healthy(const std::string& exchange_url);

}  // namespace boxd::cli
