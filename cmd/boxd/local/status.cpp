// `boxd local status`: is the background server running, and where.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "boxd/command.hpp"
#include "boxd/local/background.hpp"
#include "boxd/local/local.hpp"

namespace boxd::cli {

namespace {

struct LocalStatusOptions {
  std::filesystem::path state_dir;
  bool json = false;
};

CLI::App* define_local_status(CLI::App& parent, LocalStatusOptions& options) {
  CLI::App* cmd = parent.add_subcommand("status", "Show whether the local boxd server is running");
  cmd->add_option("--state-dir", options.state_dir,
                  "State directory (default $XDG_DATA_HOME/boxd-local)");
  cmd->footer(
      "Exits 0 when the server is running and healthy, 1 when it is not.\n"
      "\n"
      "Examples:\n"
      "  boxd local status\n"
      "  boxd local status --json | jq -r .api_url\n"
      "  boxd local status >/dev/null || boxd local start");
  return cmd;
}

int run_local_status(const LocalStatusOptions& options, Context& ctx) {
  const auto state_dir = resolve_local_state_dir(options.state_dir);
  auto server = read_background_server(state_dir);
  const bool healthy = server.running && local_server_healthy(server.info["exchange_url"]);
  if (options.json) {
    nlohmann::json doc{{"running", server.running},
                       {"healthy", healthy},
                       {"pid", server.running ? server.pid : 0},
                       {"state_dir", state_dir.string()}};
    if (server.running) {
      for (const auto& [k, v] : server.info) {
        doc[k] = v;
      }
    }
    ctx.out << doc.dump(2) << "\n";
  } else if (server.running) {
    ctx.out << "status: " << (healthy ? "running" : "running (not answering)") << "\n";
    ctx.out << "pid: " << server.pid << "\n";
    for (const auto& [k, v] : server.info) {
      ctx.out << k << ": " << v << "\n";
    }
  } else {
    ctx.out << "status: stopped\n";
    ctx.out << "state_dir: " << state_dir.string() << "\n";
  }
  return healthy ? 0 : 1;
}

}  // namespace

void add_local_status(CLI::App& parent, Context& ctx) {
  add_leaf<LocalStatusOptions>(parent, ctx, define_local_status, run_local_status);
}

}  // namespace boxd::cli
