#include "boxd/mcp/mcp.hpp"

#include <fmt/format.h>

#include "boxd/mcp/server.hpp"
#include "boxd/validators.hpp"
#include "common/error.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

void define_mcp_server_flags(CLI::App* cmd, McpOptions& options) {
  cmd->add_flag("--read-only", options.read_only,
                "Offer only tools that change nothing (list, get, logs, read files, list dirs)");
  cmd->add_option("--allow-boxes", options.allow_boxes,
                  "Only boxes whose name matches this glob exist for the agent (repeatable); "
                  "boxes it creates must be named to match")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  cmd->add_option_function<unsigned>(
         "--max-boxes", [&options](const unsigned& n) { options.max_boxes = n; },
         "At most N boxes created through this server may exist at once")
      ->type_name("N");
  cmd->add_option_function<std::string>(
         "--max-output",
         [&options](const std::string& text) { options.max_output = *parse_size(text); },
         "Cap on each output in a result: exec stdout/stderr, a file read, a log (default 256K)")
      ->type_name("SIZE")
      ->check([](const std::string& text) -> std::string {
        const auto bytes = parse_size(text);
        return bytes && *bytes >= 1024 && *bytes <= (64ULL << 20)
                   ? ""
                   : "a size from 1K to 64M, e.g. 256K";
      });
  cmd->add_option("--exec-timeout", options.exec_timeout_secs,
                  "Default timeout of box_exec in seconds when the call gives none (0 = none; "
                  "default 600)")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber.description(""));
}

CLI::App* define_mcp(CLI::App& parent, McpOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "mcp", "Serve boxd to AI agents: a Model Context Protocol server on stdin/stdout");
  define_mcp_server_flags(cmd, options);
  cmd->footer(
      "Speaks MCP (JSON-RPC 2.0 over stdio, protocol 2025-11-25 and older revisions) with the\n"
      "tools box_list, box_get, box_create, box_exec, box_read_file, box_write_file,\n"
      "box_list_dir, box_fork, box_snapshot, box_stop, box_start, box_destroy, box_logs and\n"
      "box_forward. Credentials come from the usual configuration (profile, BOXD_API_KEY,\n"
      "'boxd auth login'); no result or log line ever contains them. stdout carries protocol\n"
      "messages only; -v logs one line per tool call on stderr.\n"
      "\n"
      "Examples:\n"
      "  boxd mcp\n"
      "  boxd mcp --allow-boxes 'agent-*' --max-boxes 3\n"
      "  boxd mcp --read-only\n"
      "  boxd mcp config claude-code");
  return cmd;
}

void add_mcp(CLI::App& root, Context& ctx) {
  auto options = std::make_shared<McpOptions>();
  CLI::App* cmd = define_mcp(root, *options);
  auto config = std::make_shared<McpConfigOptions>();
  CLI::App* config_cmd = define_mcp_config(*cmd, *config);
  config_cmd->callback(
      [config, &ctx] { ctx.action = [config, &ctx] { return run_mcp_config(*config, ctx); }; });
  // The parent's callback runs after the subcommand's: it must not replace it.
  cmd->callback([options, cmd, &ctx] {
    if (cmd->got_subcommand("config")) {
      return;
    }
    ctx.action = [options, &ctx] { return run_mcp(*options, ctx); };
  });
}

std::vector<std::string> mcp_server_args(const McpOptions& options) {
  std::vector<std::string> args = {"mcp"};
  if (options.read_only) {
    args.emplace_back("--read-only");
  }
  for (const auto& glob : options.allow_boxes) {
    args.emplace_back("--allow-boxes");
    args.push_back(glob);
  }
  if (options.max_boxes) {
    args.emplace_back("--max-boxes");
    args.push_back(std::to_string(*options.max_boxes));
  }
  if (options.max_output != 256 * 1024) {
    args.emplace_back("--max-output");
    args.push_back(std::to_string(options.max_output));
  }
  if (options.exec_timeout_secs != 600) {
    args.emplace_back("--exec-timeout");
    args.push_back(fmt::format("{}", options.exec_timeout_secs));
  }
  return args;
}

int run_mcp(const McpOptions& options, Context& ctx) {
  mcp::ServeOptions serve;
  serve.policy.read_only = options.read_only;
  serve.policy.allow = options.allow_boxes;
  serve.policy.max_boxes = options.max_boxes;
  serve.limits.max_output = options.max_output;
  serve.limits.exec_timeout_secs = options.exec_timeout_secs;
  serve.verbose = ctx.global.verbose;
  serve.in_fd = ctx.in_fd;
  serve.out_fd = ctx.out_fd;
  return mcp::serve(
      serve, [&ctx]() -> client::ClientApi& { return ctx.client(); }, ctx.err);
}

}  // namespace boxd::cli
