// `boxd mcp`: a Model Context Protocol server on stdin/stdout.
//
// The main thread reads one JSON-RPC message per line from stdin and answers
// initialize, ping and tools/list itself; each tools/call runs on its own
// thread (so a long box_exec never blocks a ping or its own cancellation),
// and every message out goes through one Writer (whole lines, one at a
// time). notifications/cancelled cancels the call in flight (its exec
// stream: the server kills the command) and no response is sent for it.
// At EOF on stdin, calls still running get 5 s to finish and answer; then
// they are cancelled and joined.
// Nothing but protocol messages is written to stdout; with -v one line per
// request (method, tool, outcome; never arguments or results) goes to stderr.
#pragma once

#include <functional>
#include <iosfwd>

#include "boxd/mcp/policy.hpp"
#include "boxd/mcp/tool.hpp"
#include "client/client_api.hpp"

namespace boxd::cli::mcp {

struct ServeOptions {
  PolicyOptions policy;
  Limits limits;
  int verbose = 0;
  int in_fd = 0;
  int out_fd = 1;
};

// `client` is called (once at a time) when a tool first needs the API, so
// a configuration problem becomes a tool error the agent can show, not a
// server that dies before initialize. Returns the process exit code.
int serve(const ServeOptions& options, const std::function<client::ClientApi&()>& client,
          std::ostream& log);

}  // namespace boxd::cli::mcp
