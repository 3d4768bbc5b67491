// The MCP clients `boxd mcp config` knows: where each keeps its list of
// servers and in which shape, and the snippet that registers boxd there.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace boxd::cli::mcp {

enum class ConfigFormat {
  McpServers,  // JSON {"mcpServers": {NAME: {"command", "args"}}}
  VsCode,      // JSON {"servers": {NAME: {"type": "stdio", "command", "args"}}}
  CodexToml,   // TOML [mcp_servers.NAME] command = ..., args = [...]
};

struct McpClient {
  std::string id;    // what `boxd mcp config` takes
  std::string name;  // the product
  ConfigFormat format;
  std::string location;      // where the file is, as documented to users
  bool project = false;      // the file is in the current directory (a project's)
  bool typed_stdio = false;  // mcpServers entries carry "type": "stdio"
};

const std::vector<McpClient>& mcp_clients();
const McpClient* find_mcp_client(const std::string& id);

// The config file on this machine (home from $HOME, the project from the
// current directory).
std::filesystem::path client_config_path(const McpClient& client);

// The snippet: a whole document that registers `command args` as server `name`.
std::string config_snippet(const McpClient& client, const std::string& name,
                           const std::string& command, const std::vector<std::string>& args);

// `existing` (the file's text; nullopt: no file) with the server added or
// replaced. Throws boxd::Error (nothing written) when the file cannot be
// understood or, for TOML, already has a different entry for `name`.
std::string merge_config(const McpClient& client, const std::optional<std::string>& existing,
                         const std::string& name, const std::string& command,
                         const std::vector<std::string>& args);

}  // namespace boxd::cli::mcp
