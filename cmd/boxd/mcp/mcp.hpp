// `boxd mcp` (the MCP server on stdio) and `boxd mcp config CLIENT`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct McpOptions {
  bool read_only = false;
  std::vector<std::string> allow_boxes;  // globs
  std::optional<unsigned> max_boxes;
  std::uint64_t max_output = 256 * 1024;
  double exec_timeout_secs = 600;
};

struct McpConfigOptions {
  std::string client;
  bool write = false;
  std::string name = "boxd";
  McpOptions server;  // the flags baked into the registered command
};

// The server's flags, shared by `mcp` and `mcp config` (which bakes them in).
void define_mcp_server_flags(CLI::App* cmd, McpOptions& options);
CLI::App* define_mcp(CLI::App& parent, McpOptions& options);
CLI::App* define_mcp_config(CLI::App& parent, McpConfigOptions& options);
void add_mcp(CLI::App& root, Context& ctx);
int run_mcp(const McpOptions& options, Context& ctx);
int run_mcp_config(const McpConfigOptions& options, Context& ctx);

// The `boxd mcp ...` arguments that reproduce these options.
std::vector<std::string> mcp_server_args(const McpOptions& options);

}  // namespace boxd::cli
