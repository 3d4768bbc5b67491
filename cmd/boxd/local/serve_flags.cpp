// GCC 12 reports a false "potential null pointer dereference" inside CLI11's
// inlined string splitting (CLI/StringTools.hpp) at -O2; not our code.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "boxd/local/serve_flags.hpp"

#include "common/sizes.hpp"

namespace boxd::cli {

namespace {

// Ports, address, state and keys.
void add_endpoint_flags(CLI::App& command, local::ServeOptions& options) {
  command
      .add_option("--port", options.port, "gRPC port (0 = free ports for gRPC, HTTP and the proxy)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  command
      .add_option_function<int>(
          "--http-port", [&options](int v) { options.http_port = v; },
          "Key exchange HTTP port (default 9444, free with --port 0)")
      ->check(CLI::Range(0, 65535));
  command
      .add_option_function<int>(
          "--proxy-port", [&options](int v) { options.proxy_port = v; },
          "HTTP proxy port for box URLs (default 9480, free with --port 0)")
      ->check(CLI::Range(0, 65535));
  command.add_option("--listen", options.listen, "Address to listen on")->capture_default_str();
  command.add_option("--state-dir", options.state_dir,
                     "State directory (default $XDG_DATA_HOME/boxd-local)");
  // One value per --api-key: a list option would take every word after it,
  // and the keys after the first would stay on the command line (only the
  // value right after the flag is wiped there: secret_args.hpp).
  command
      .add_option("--api-key", options.api_keys,
                  "KEY=USER, repeatable (none: a key is generated for user 'local')")
      ->allow_extra_args(false);
}

// Tokens, quotas, box limits and the runtime.
void add_limit_flags(CLI::App& command, local::ServeOptions& options) {
  command.add_option("--token-ttl", options.token_ttl, "Token lifetime in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command.add_option("--max-boxes", options.max_boxes, "At most this many boxes per user")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--max-disks", options.max_disks, "At most this many disks per user")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--max-records", options.max_records,
                  "At most this many networks, domains, templates, snapshots and live tokens per "
                  "user (each kind), and proxies per box")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command.add_option_function<std::string>(
      "--max-disk-bytes",
      [&options](const std::string& text) {
        const auto bytes = parse_size(text);
        if (!bytes || *bytes == 0) {
          throw CLI::ValidationError("--max-disk-bytes",
                                     "invalid size '" + text + "': use e.g. 200G, 512M");
        }
        options.max_disk_bytes = *bytes;
      },
      "Per user: disks, boxes' disks and snapshots, all together (default 500G)");
  command
      .add_option("--box-pids-max", options.box_pids_max,
                  "Processes and threads per box (cgroup pids.max; 0 = no limit)")
      ->capture_default_str();
  command
      .add_option("--max-user-streams", options.max_user_streams,
                  "Uploads, downloads and listings one user may have open at once (and as many "
                  "log streams)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  command
      .add_option("--max-user-execs", options.max_user_execs,
                  "Exec sessions one user may have open at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  command
      .add_option("--max-streams", options.max_streams,
                  "Uploads, downloads and listings all users together may have open at once "
                  "(and as many log streams); 0 = as many as the descriptor limit allows, at "
                  "most 1024")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  command
      .add_option("--max-execs", options.max_execs,
                  "Exec sessions all users together may have open at once; 0 = as many as the "
                  "descriptor limit allows, at most 2048")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  command
      .add_option("--max-connections", options.max_connections,
                  "gRPC connections all clients together may hold open; 0 = a quarter of the "
                  "descriptor limit, at most 4096")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  command
      .add_option("--max-user-connections", options.max_user_connections,
                  "gRPC connections one local user (or one remote address) may hold open")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  command
      .add_option("--stream-idle-timeout", options.stream_idle_timeout,
                  "Seconds an upload may wait for its next chunk, or an exec for its first, "
                  "before it is cancelled")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  command.add_option("--runtime", options.runtime, "Box runtime")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespace", "process"}));
  command
      .add_option("--bridge-subnet", options.bridge_subnet,
                  "Private IPv4 subnet of the boxes' bridge, e.g. 10.64.1.0/24 (default: a free "
                  "/24 picked per state dir)")
      ->type_name("CIDR");
}

// TLS and the HTTP endpoints' connection limits.
void add_http_flags(CLI::App& command, local::ServeOptions& options) {
  command.add_option("--tls-cert", options.tls_cert, "PEM certificate: serve gRPC over TLS");
  command.add_option("--tls-key", options.tls_key, "PEM private key for --tls-cert");
  command
      .add_option("--http-max-connections", options.http_max_connections,
                  "Open connections per HTTP endpoint (key exchange, proxy); 503 past it")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  command
      .add_option("--http-header-timeout", options.http_header_timeout,
                  "Seconds a client has to send a request head (408 after)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  command
      .add_option("--http-body-timeout", options.http_body_timeout,
                  "Seconds for a key exchange body; a proxied body may pause this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
}

// The server's log.
void add_log_flags(CLI::App& command, local::ServeOptions& options) {
  command.add_option("--log-level", options.log_level, "Log level")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  command
      .add_option("--log-format", options.log_format,
                  "Log lines as text or JSON (one object a line)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  command
      .add_option("--log-file", options.log_file,
                  "Log to this file, rotated by size, instead of stderr")
      ->type_name("PATH");
  command
      .add_option_function<std::string>(
          "--log-max-size",
          [&options](const std::string& text) {
            const auto bytes = parse_size(text);
            if (!bytes || *bytes < 4096) {
              throw CLI::ValidationError("--log-max-size",
                                         "invalid size '" + text + "': use e.g. 10M (at least 4K)");
            }
            options.log_max_bytes = *bytes;
          },
          "Rotate --log-file past this size (default 10M)")
      ->type_name("SIZE");
  command
      .add_option("--log-max-files", options.log_max_files,
                  "Rotated log files kept (FILE.1.EXT ... FILE.N.EXT)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  // Hidden (no group): for tests of the CLI's update notice.
  command
      .add_option("--advertise-cli-latest", options.advertise_cli_latest,
                  "Send x-boxd-cli-latest: VERSION with every response")
      ->group("");
}

}  // namespace

void add_serve_flags(CLI::App& command, local::ServeOptions& options) {
  add_endpoint_flags(command, options);
  add_limit_flags(command, options);
  add_http_flags(command, options);
  add_log_flags(command, options);
}

std::vector<std::string> serve_flags_to_argv(const local::ServeOptions& options) {
  std::vector<std::string> argv{"--port", std::to_string(options.port)};
  if (options.http_port) {
    argv.insert(argv.end(), {"--http-port", std::to_string(*options.http_port)});
  }
  if (options.proxy_port) {
    argv.insert(argv.end(), {"--proxy-port", std::to_string(*options.proxy_port)});
  }
  argv.insert(argv.end(), {"--listen", options.listen});
  if (!options.state_dir.empty()) {
    argv.insert(argv.end(), {"--state-dir", options.state_dir.string()});
  }
  argv.insert(argv.end(),
              {"--token-ttl", std::to_string(options.token_ttl), "--max-boxes",
               std::to_string(options.max_boxes), "--max-disks", std::to_string(options.max_disks),
               "--max-records", std::to_string(options.max_records), "--max-disk-bytes",
               std::to_string(options.max_disk_bytes), "--box-pids-max",
               std::to_string(options.box_pids_max), "--runtime", options.runtime});
  argv.insert(argv.end(), {"--max-user-streams", std::to_string(options.max_user_streams),
                           "--max-user-execs", std::to_string(options.max_user_execs),
                           "--max-streams", std::to_string(options.max_streams), "--max-execs",
                           std::to_string(options.max_execs), "--stream-idle-timeout",
                           std::to_string(options.stream_idle_timeout)});
  argv.insert(argv.end(), {"--max-connections", std::to_string(options.max_connections),
                           "--max-user-connections", std::to_string(options.max_user_connections)});
  argv.insert(argv.end(), {"--http-max-connections", std::to_string(options.http_max_connections),
                           "--http-header-timeout", std::to_string(options.http_header_timeout),
                           "--http-body-timeout", std::to_string(options.http_body_timeout)});
  argv.insert(argv.end(), {"--log-level", options.log_level, "--log-format", options.log_format,
                           "--log-max-size", std::to_string(options.log_max_bytes),
                           "--log-max-files", std::to_string(options.log_max_files)});
  if (!options.log_file.empty()) {
    argv.insert(argv.end(), {"--log-file", options.log_file.string()});
  }
  if (!options.bridge_subnet.empty()) {
    argv.insert(argv.end(), {"--bridge-subnet", options.bridge_subnet});
  }
  if (!options.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", options.tls_cert, "--tls-key", options.tls_key});
  }
  if (!options.advertise_cli_latest.empty()) {
    argv.insert(argv.end(), {"--advertise-cli-latest", options.advertise_cli_latest});
  }
  return argv;
}

}  // namespace boxd::cli
