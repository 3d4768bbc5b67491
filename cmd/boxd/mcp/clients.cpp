#include "boxd/mcp/clients.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace boxd::cli::mcp {

using nlohmann::ordered_json;  // a merged file keeps its order

const std::vector<McpClient>& mcp_clients() {
  static const std::vector<McpClient> clients = {
      {"claude-code", "Claude Code", ConfigFormat::McpServers,
       ".mcp.json in the project directory (shared with the project)", true, true},
      {"claude-desktop", "Claude Desktop", ConfigFormat::McpServers,
       "~/.config/Claude/claude_desktop_config.json (macOS: ~/Library/Application "
       "Support/Claude/claude_desktop_config.json)"},
      {"cursor", "Cursor", ConfigFormat::McpServers,
       "~/.cursor/mcp.json (all projects; .cursor/mcp.json in a project for one)"},
      {"vscode", "VS Code (Copilot agent mode)", ConfigFormat::VsCode,
       ".vscode/mcp.json in the workspace", true},
      {"windsurf", "Windsurf", ConfigFormat::McpServers, "~/.codeium/windsurf/mcp_config.json"},
      {"gemini", "Gemini CLI", ConfigFormat::McpServers,
       "~/.gemini/settings.json (.gemini/settings.json in a project for one)"},
      {"codex", "OpenAI Codex CLI", ConfigFormat::CodexToml,
       "~/.codex/config.toml ($CODEX_HOME/config.toml when set)"},
  };
  return clients;
}

const McpClient* find_mcp_client(const std::string& id) {
  for (const auto& client : mcp_clients()) {
    if (client.id == id) {
      return &client;
    }
  }
  return nullptr;
}

namespace {

std::filesystem::path home() {
  const char* value = std::getenv("HOME");
  if (value == nullptr || *value == '\0') {
    throw Error(ErrorClass::Usage, "HOME is not set: cannot tell where the client's config is");
  }
  return value;
}

std::filesystem::path env_or(const char* name, const std::filesystem::path& fallback) {
  const char* value = std::getenv(name);
  return (value != nullptr && *value != '\0') ? std::filesystem::path(value) : fallback;
}

ordered_json server_entry(const McpClient& client, const std::string& command,
                          const std::vector<std::string>& args) {
  ordered_json entry = ordered_json::object();
  if (client.typed_stdio || client.format == ConfigFormat::VsCode) {
    entry["type"] = "stdio";
  }
  entry["command"] = command;
  entry["args"] = args;
  return entry;
}

const char* servers_key(const McpClient& client) {
  return client.format == ConfigFormat::VsCode ? "servers" : "mcpServers";
}

std::string toml_string(const std::string& text) {
  return ordered_json(text).dump();  // a JSON string is a TOML basic string for these characters
}

std::string toml_table(const std::string& name, const std::string& command,
                       const std::vector<std::string>& args) {
  std::string text =
      "[mcp_servers." + toml_string(name) + "]\ncommand = " + toml_string(command) + "\nargs = [";
  for (std::size_t i = 0; i < args.size(); ++i) {
    text += (i == 0 ? "" : ", ") + toml_string(args[i]);
  }
  return text + "]\n";
}

std::string merge_toml(const std::optional<std::string>& existing, const std::string& name,
                       const std::string& table) {
  std::string text = existing.value_or("");
  const std::string header = "[mcp_servers." + toml_string(name) + "]";
  const std::string bare = "[mcp_servers." + name + "]";
  if (text.find(table) != std::string::npos) {
    return text;  // already registered exactly so
  }
  if (text.find(header) != std::string::npos || text.find(bare) != std::string::npos) {
    throw Error(ErrorClass::InvalidArgument,
                "the file already registers an MCP server '" + name + "' differently",
                "edit it by hand, or pick another --name");
  }
  if (!text.empty() && text.back() != '\n') {
    text += "\n";
  }
  return text + (text.empty() ? "" : "\n") + table;
}

}  // namespace

std::filesystem::path client_config_path(const McpClient& client) {
  if (client.id == "claude-code") {
    return std::filesystem::current_path() / ".mcp.json";
  }
  if (client.id == "claude-desktop") {
    return env_or("XDG_CONFIG_HOME", home() / ".config") / "Claude" / "claude_desktop_config.json";
  }
  if (client.id == "cursor") {
    return home() / ".cursor" / "mcp.json";
  }
  if (client.id == "vscode") {
    return std::filesystem::current_path() / ".vscode" / "mcp.json";
  }
  if (client.id == "windsurf") {
    return home() / ".codeium" / "windsurf" / "mcp_config.json";
  }
  if (client.id == "gemini") {
    return home() / ".gemini" / "settings.json";
  }
  return env_or("CODEX_HOME", home() / ".codex") / "config.toml";
}

std::string config_snippet(const McpClient& client, const std::string& name,
                           const std::string& command, const std::vector<std::string>& args) {
  if (client.format == ConfigFormat::CodexToml) {
    return toml_table(name, command, args);
  }
  ordered_json doc = {{servers_key(client), {{name, server_entry(client, command, args)}}}};
  return doc.dump(2) + "\n";
}

std::string merge_config(const McpClient& client, const std::optional<std::string>& existing,
                         const std::string& name, const std::string& command,
                         const std::vector<std::string>& args) {
  if (client.format == ConfigFormat::CodexToml) {
    return merge_toml(existing, name, toml_table(name, command, args));
  }
  ordered_json doc = ordered_json::object();
  if (existing && existing->find_first_not_of(" \t\r\n") != std::string::npos) {
    doc = ordered_json::parse(*existing, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      throw Error(ErrorClass::InvalidArgument, "the file is not a JSON object; it was left alone",
                  "fix it, or add the snippet by hand");
    }
  }
  ordered_json& servers = doc[servers_key(client)];
  if (servers.is_null()) {
    servers = ordered_json::object();
  }
  if (!servers.is_object()) {
    throw Error(ErrorClass::InvalidArgument,
                std::string("'") + servers_key(client) +
                    "' in the file is not an object; it was left alone");
  }
  servers[name] = server_entry(client, command, args);
  return doc.dump(2) + "\n";
}

}  // namespace boxd::cli::mcp
