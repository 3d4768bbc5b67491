// `boxd local serve`: the local server in the foreground.
#include <cstdlib>
#include <sstream>

#include "boxd/command.hpp"
#include "boxd/local/local.hpp"
#include "boxd/local/serve_flags.hpp"
#include "local/server.hpp"

namespace boxd::cli {

namespace {

struct LocalServeOptions {
  local::ServeOptions serve;
};

// Keys handed over by `boxd local start` through the environment (never argv):
// BOXD_LOCAL_API_KEYS="KEY=USER KEY=USER".
void add_keys_from_env(local::ServeOptions& options) {
  const char* value = std::getenv("BOXD_LOCAL_API_KEYS");
  if (value == nullptr) {
    return;
  }
  std::istringstream words(value);
  std::string word;
  while (words >> word) {
    options.api_keys.push_back(word);
  }
  ::unsetenv("BOXD_LOCAL_API_KEYS");
}

CLI::App* define_local_serve(CLI::App& parent, LocalServeOptions& options) {
  CLI::App* cmd = parent.add_subcommand("serve", "Run the local boxd server in the foreground");
  add_serve_flags(*cmd, options.serve);
  cmd->footer(
      "Prints api_url, exchange_url, state_dir, runtime (bridge_subnet with the namespace\n"
      "runtime) and 'ready' on stdout once it\n"
      "accepts calls; the log goes to stderr (or --log-file, rotated). SIGINT/SIGTERM\n"
      "stop it (boxes keep their status and start again with the server).\n"
      "Log levels: info has the server's start and stop, box lifecycle, tokens, refused\n"
      "calls (auth, quota); debug adds one line per RPC (user, box, status, ms, peer).\n"
      "Never a key, token, file content or environment value.\n"
      "\n"
      "Examples:\n"
      "  boxd local serve\n"
      "  boxd local serve --port 0 --state-dir /tmp/boxd-test --api-key \"$KEY=alice\"\n"
      "  boxd local serve --runtime process --max-boxes 5\n"
      "  boxd local serve --log-level debug --log-format json 2>>boxd.jsonl");
  return cmd;
}

int run_local_serve(const LocalServeOptions& options, Context& ctx) {
  local::ServeOptions serve = options.serve;
  add_keys_from_env(serve);
  serve.out = &ctx.out;
  serve.log_stream = &ctx.err;  // unless --log-file
  return local::serve(serve);
}

}  // namespace

void add_local_serve(CLI::App& parent, Context& ctx) {
  add_leaf<LocalServeOptions>(parent, ctx, define_local_serve, run_local_serve);
}

}  // namespace boxd::cli
