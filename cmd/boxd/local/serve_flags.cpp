// GCC 12 reports a false "potential null pointer dereference" inside CLI11's
// inlined string splitting (CLI/StringTools.hpp) at -O2; not our code.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "boxd/local/serve_flags.hpp"

namespace boxd::cli {

void add_serve_flags(CLI::App& command, local::ServeOptions& options) {
  command.add_option("--port", options.port,
                     "gRPC port (0 = free ports for gRPC, HTTP and the proxy)")
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
  command.add_option("--api-key", options.api_keys,
                     "KEY=USER, repeatable (none: a key is generated for user 'local')");
  command.add_option("--token-ttl", options.token_ttl, "Token lifetime in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command.add_option("--max-boxes", options.max_boxes, "At most this many boxes per user")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--box-pids-max", options.box_pids_max,
                     "Processes and threads per box (cgroup pids.max; 0 = no limit)")
      ->capture_default_str();
  command.add_option("--runtime", options.runtime, "Box runtime")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "namespace", "process"}));
  command.add_option("--tls-cert", options.tls_cert, "PEM certificate: serve gRPC over TLS");
  command.add_option("--tls-key", options.tls_key, "PEM private key for --tls-cert");
  // Hidden (no group): for tests of the CLI's update notice.
  command.add_option("--advertise-cli-latest", options.advertise_cli_latest,
                     "Send x-boxd-cli-latest: VERSION with every response")
      ->group("");
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
  argv.insert(argv.end(), {"--token-ttl", std::to_string(options.token_ttl), "--max-boxes",
                           std::to_string(options.max_boxes), "--box-pids-max",
                           std::to_string(options.box_pids_max), "--runtime", options.runtime});
  if (!options.tls_cert.empty()) {
    argv.insert(argv.end(), {"--tls-cert", options.tls_cert, "--tls-key", options.tls_key});
  }
  if (!options.advertise_cli_latest.empty()) {
    argv.insert(argv.end(), {"--advertise-cli-latest", options.advertise_cli_latest});
  }
  return argv;
}

}  // namespace boxd::cli
