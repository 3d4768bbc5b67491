// The one small object every command gets: the streams (and whether each is
// a terminal), the global options, and a lazily created client, so that
// `boxd --help` touches neither the config files nor the network.
//
// Every byte a command prints goes through a Context: text through `out` /
// `err`, raw bytes that must not be buffered (exec output, box logs, cp to
// '-', forward --stdio) through the fds it hands out, after flushing `out`.
// The client is the interface ClientApi (client/client_api.hpp): the real
// process creates the gRPC Client on first use, tests install a fake with
// set_client().
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

#include "client/client_api.hpp"
#include "client/config.hpp"

namespace boxd::cli {

struct GlobalOptions {
  client::ConfigFlags flags;
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_color = false;
};

class Context {
 public:
  // The real process: std::cout / std::cerr, isatty() on fds 0, 1, 2.
  Context();
  // Tests: any streams, no terminals; `in_stream` defaults to an empty input.
  Context(std::ostream& out_stream, std::ostream& err_stream);
  Context(std::ostream& out_stream, std::ostream& err_stream, std::istream& in_stream);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  std::ostream& out;  // data only
  std::ostream& err;  // messages, progress, notices
  std::istream& in;   // answers to prompts (destroy's confirmation)
  bool stdin_tty = false;
  bool stdout_tty = false;
  bool stderr_tty = false;
  // The process's fds 0, 1, 2 for raw, unbuffered bytes; -1 in a context
  // made from streams (a test sets them when it needs them).
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;

  GlobalOptions global;

  // The words after the first `--` on the command line, verbatim (CLI11 is
  // never shown them: it would, e.g., split a word like "[a,b]"). A command
  // that takes them (box exec) marks them used; anywhere else they are a
  // usage error.
  std::optional<std::vector<std::string>> trailing_args;
  bool trailing_args_used = false;

  // The command chosen by parsing. Leaf commands set it in their callback;
  // main runs it after parsing succeeded and maps its result/exception to an
  // exit code. Returns the process exit code.
  std::function<int()> action;

  // Resolved once, on first use.
  const client::ResolvedConfig& config();
  // The gRPC Client made from config() on first use, or the one set_client() installed.
  client::ClientApi& client();
  // The client if a command created one (else null): for what runs after
  // the command, such as the update notice.
  client::ClientApi* existing_client() { return m_client.get(); }
  // Tests: the client every command will use (a fake), instead of the gRPC one.
  void set_client(std::unique_ptr<client::ClientApi> client);

  // Colour only on a terminal, never with --no-color or NO_COLOR.
  bool color_stdout() const;
  bool color_stderr() const;

  // Tests (and commands that already hold one) can set the configuration.
  void set_config(client::ResolvedConfig config);

  // "warning: ..." / "error: ..." lines on stderr.
  void warn(const std::string& message);
  // "error: <message>" and, when there is one, "hint: <hint>".
  void print_error(const std::string& message, const std::string& hint = {});

 private:
  std::unique_ptr<client::ResolvedConfig> m_config;
  std::unique_ptr<client::ClientApi> m_client;
};

}  // namespace boxd::cli
