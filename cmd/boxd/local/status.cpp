// `boxd local status`: is the background server running, and where.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>

#include "boxd/command.hpp"
#include "boxd/local/background.hpp"
#include "boxd/local/local.hpp"
#include "common/files.hpp"
#include "local/server.hpp"

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
      "Exits 0 when the server is running and healthy, 1 when it is not. Lists each\n"
      "isolation layer of its boxes (namespaces, cgroup limits) as on or off, and why.\n"
      "\n"
      "Examples:\n"
      "  boxd local status\n"
      "  boxd local status --json | jq -r .api_url\n"
      "  boxd local status >/dev/null || boxd local start");
  return cmd;
}

// The layers the running server wrote to <state>/isolation.json (an empty
// array when the file is missing or unreadable).
nlohmann::json read_isolation(const std::filesystem::path& state_dir) {
  try {
    if (auto text = read_file(state_dir / local::k_isolation_file)) {
      auto doc = nlohmann::json::parse(*text, nullptr, false);
      if (doc.is_object() && doc.contains("isolation") && doc["isolation"].is_array()) {
        return doc["isolation"];
      }
    }
  } catch (...) {
  }
  return nlohmann::json::array();
}

// "isolation:" and one line per layer: "  on   NAME  DETAIL".
void print_isolation(std::ostream& out, const nlohmann::json& layers) {
  std::size_t width = 0;
  for (const auto& layer : layers) {
    width = std::max(width, layer.value("name", std::string()).size());
  }
  out << "isolation:" << (layers.empty() ? " unknown (the server wrote no isolation report)" : "")
      << "\n";
  for (const auto& layer : layers) {
    std::string name = layer.value("name", std::string());
    name.resize(width, ' ');
    out << "  " << (layer.value("enforced", false) ? "on " : "off") << "  " << name << "  "
        << layer.value("detail", std::string()) << "\n";
  }
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
      doc["isolation"] = read_isolation(state_dir);
    }
    ctx.out << doc.dump(2) << "\n";
  } else if (server.running) {
    ctx.out << "status: " << (healthy ? "running" : "running (not answering)") << "\n";
    ctx.out << "pid: " << server.pid << "\n";
    for (const auto& [k, v] : server.info) {
      ctx.out << k << ": " << v << "\n";
    }
    print_isolation(ctx.out, read_isolation(state_dir));
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
