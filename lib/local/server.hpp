// `boxd local serve`: the whole local server in one call.
//
// serve() opens the state dir (one server per state dir, guarded by a lock
// file), resolves users and keys, recovers the boxes of a previous run
// (adopting live ones, booting the ones that should run), starts the gRPC
// API and the HTTP key exchange, announces itself with the contract lines
// of docs/design.md section 8 and blocks until SIGINT/SIGTERM. On the way out it
// stops the boxes' processes but keeps their statuses, so the next start
// boots them again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace boxd::local {

struct ServeOptions {
  int port = 9443;                // gRPC; 0 = free ports for gRPC, HTTP and proxy
  std::optional<int> http_port;   // default 9444 (free when port == 0)
  std::optional<int> proxy_port;  // default 9480 (free when port == 0)
  std::string listen = "127.0.0.1";
  std::filesystem::path state_dir;    // empty = local_state_dir()
  std::vector<std::string> api_keys;  // "KEY=USER"; none = a generated key for "local"
  std::int64_t token_ttl = 3600;
  int max_boxes = 50;
  int max_disks = 20;  // per user
  // Per user and kind: networks, domains, templates, snapshots, live
  // tokens; named proxies and exposed ports per box (the same as
  // store.hpp's k_default_record_limit).
  int max_records = 256;
  std::uint64_t max_disk_bytes = 500ULL << 30;  // per user: disks, box disks, snapshots
  std::uint64_t box_pids_max = 2048;            // pids.max of every box (0 = no limit)
  std::string runtime = "auto";                 // auto | namespace | process
  // Abuse limits of the HTTP endpoints (key exchange, proxy), each endpoint
  // on its own: open connections (503 past it), seconds for a request head,
  // seconds for a body (key exchange: all of it; proxy: without progress).
  int http_max_connections = 128;
  int http_header_timeout = 5;
  int http_body_timeout = 30;
  // What one user's streams may hold (lib/local/stream_limits.hpp).
  int max_user_streams = 64;  // uploads, downloads, listings at once; log streams apart
  int max_user_execs = 256;   // exec sessions at once
  // The same for all users together (streams: each pool); 0 = what the
  // descriptor limit allows, at most 1024 and 2048 (fit_stream_caps).
  int max_streams = 0;
  int max_execs = 0;
  int stream_idle_timeout = 300;  // seconds an upload or a new exec may wait on its client
  // gRPC connections open at once (grpc_gate.hpp): all peers together (0 =
  // a quarter of the descriptor limit, at most 4096) and one local user (or
  // one remote address).
  int max_connections = 0;
  int max_user_connections = 512;
  std::string bridge_subnet;  // namespace runtime: the boxes' bridge ("" = picked)
  std::string tls_cert;       // PEM files; both or neither
  std::string tls_key;
  // Non-empty: every gRPC response carries `x-boxd-cli-latest: <this>` in
  // its initial metadata, as boxd's servers do (tests of the update notice).
  std::string advertise_cli_latest;

  // The log (common/log.hpp): trace|debug|info|warn|error, text|json; to
  // log_file (rotated at log_max_bytes, log_max_files kept) or, without one,
  // to log_stream (the CLI passes stderr); neither = no log.
  std::string log_level = "info";
  std::string log_format = "text";
  std::filesystem::path log_file;
  std::uint64_t log_max_bytes = 10ULL << 20;
  int log_max_files = 5;
  std::ostream* log_stream = nullptr;

  // Where the contract lines go (the CLI passes std::cout); null = nowhere.
  std::ostream* out = nullptr;
};

// The file in the state dir where a running server lists its isolation
// layers (`boxd local status` shows them): {"runtime": ..., "isolation":
// [{"name", "enforced", "detail"}]}.
inline constexpr const char* k_isolation_file = "isolation.json";

// The soft descriptor limit serve() raises itself to (within the hard one)
// for the stream caps of `options`: twice what the open streams and execs
// may hold (the process watch may hold up to half the limit in pidfds).
std::uint64_t wanted_fd_limit(const ServeOptions& options);
// `options` with the server-wide stream caps decided (0: 1024 streams per
// pool and 2048 execs) and lowered, where `fd_limit` is below
// wanted_fd_limit(), to what it allows; the per-user caps at most those.
ServeOptions fit_stream_caps(ServeOptions options, std::uint64_t fd_limit);

// Blocks until SIGINT/SIGTERM; returns the exit code. Throws boxd::Error
// when the server cannot start (port in use, state dir locked, bad flags).
int serve(const ServeOptions& options);

}  // namespace boxd::local
