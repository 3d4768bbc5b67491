// `boxd mcp config CLIENT [--write]`: the snippet that registers this boxd
// binary as an MCP server in a client's config file; with --write, merged
// into that file (atomically; the file's other entries kept).
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "boxd/mcp/clients.hpp"
#include "boxd/mcp/mcp.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace boxd::cli {

namespace {

std::string client_list() {
  std::string text;
  for (const auto& client : mcp::mcp_clients()) {
    text += fmt::format("  {:<15} {}: {}\n", client.id, client.name, client.location);
  }
  return text;
}

std::string this_binary() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("boxd") : path.string();
}

// A global flag, else its environment variable: a client starts the server
// with its own environment, so where boxd connects is written down as flags
// (never a credential: --api-key and --token are left out).
std::optional<std::string> flag_or_env(const std::optional<std::string>& flag, const char* env) {
  if (flag) {
    return flag;
  }
  const char* value = std::getenv(env);
  return (value != nullptr && *value != '\0') ? std::optional<std::string>(value) : std::nullopt;
}

std::vector<std::string> command_args(const McpConfigOptions& options, const Context& ctx) {
  std::vector<std::string> args;
  const auto& flags = ctx.global.flags;
  const std::pair<const char*, std::optional<std::string>> settings[] = {
      {"--profile", flag_or_env(flags.profile, "BOXD_PROFILE")},
      {"--environment", flag_or_env(flags.environment, "BOXD_ENVIRONMENT")},
      {"--api-url", flag_or_env(flags.api_url, "BOXD_API_URL")},
      {"--exchange-url", flag_or_env(flags.exchange_url, "BOXD_EXCHANGE_URL")},
  };
  for (const auto& [flag, value] : settings) {
    if (value) {
      args.insert(args.end(), {flag, *value});
    }
  }
  const auto server = mcp_server_args(options.server);
  args.insert(args.end(), server.begin(), server.end());
  return args;
}

// The file's permission bits, kept when it is rewritten.
unsigned file_mode(const std::filesystem::path& path) {
  std::error_code ec;
  const auto perms = std::filesystem::status(path, ec).permissions();
  return ec ? 0644 : static_cast<unsigned>(perms) & 0777;
}

}  // namespace

CLI::App* define_mcp_config(CLI::App& parent, McpConfigOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "config", "Print the snippet that registers boxd in an MCP client (--write: add it)");
  cmd->add_option("CLIENT", options.client, "The MCP client (see below)")
      ->required()
      ->check(CLI::IsMember([] {
        std::vector<std::string> ids;
        for (const auto& client : mcp::mcp_clients()) {
          ids.push_back(client.id);
        }
        return ids;
      }()));
  cmd->add_flag("--write", options.write,
                "Add boxd to the client's config file (other entries kept) instead of printing");
  cmd->add_option("--name", options.name, "Server name in the client's config (default: boxd)")
      ->check(CLI::TypeValidator<std::string>());
  define_mcp_server_flags(cmd, options.server);
  cmd->footer("Clients and where they keep their MCP servers:\n" + client_list() +
              "\n"
              "The snippet runs this binary as `boxd mcp` with the flags given here, and\n"
              "--profile, --environment, --api-url, --exchange-url when given as flags or set\n"
              "as BOXD_* variables; credentials stay in boxd's own configuration, never in the\n"
              "client's file.\n"
              "\n"
              "Examples:\n"
              "  boxd mcp config claude-code\n"
              "  boxd mcp config cursor --allow-boxes 'agent-*' --max-boxes 2 --write\n"
              "  boxd --profile work mcp config vscode --read-only");
  return cmd;
}

int run_mcp_config(const McpConfigOptions& options, Context& ctx) {
  const mcp::McpClient* client = mcp::find_mcp_client(options.client);
  if (client == nullptr) {
    throw Error(ErrorClass::Usage, "unknown MCP client '" + options.client + "'");
  }
  if (options.name.empty()) {
    throw Error(ErrorClass::Usage, "--name must not be empty");
  }
  const std::string command = this_binary();
  const std::vector<std::string> args = command_args(options, ctx);
  const std::filesystem::path path = mcp::client_config_path(*client);
  if (!options.write) {
    ctx.out << mcp::config_snippet(*client, options.name, command, args);
    ctx.out.flush();
    if (!ctx.global.quiet) {
      ctx.err << "# " << client->name << " reads this from " << path.string()
              << "\n# add it there, or run the same command with --write\n";
    }
    return 0;
  }
  const std::optional<std::string> existing = read_file(path);
  const std::string merged = mcp::merge_config(*client, existing, options.name, command, args);
  if (existing && *existing == merged) {
    ctx.err << "boxd is already registered as '" << options.name << "' in " << path.string()
            << "\n";
    return 0;
  }
  if (!std::filesystem::exists(path.parent_path())) {
    ensure_dir(path.parent_path(), 0755);  // never chmod a directory that was there
  }
  write_file_atomic(path, merged, existing ? file_mode(path) : 0644);
  ctx.err << (existing ? "Updated " : "Wrote ") << path.string() << ": MCP server '" << options.name
          << "' runs " << command << " " << fmt::format("{}", fmt::join(args, " ")) << "\n";
  return 0;
}

}  // namespace boxd::cli
