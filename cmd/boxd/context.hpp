// The one small object every command gets: the streams (and whether each is
// a terminal), the global options, and a lazily created client, so that
// `boxd --help` touches neither the config files nor the network.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

#include "client/client.hpp"
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
  // Tests: any streams, no terminals.
  Context(std::ostream& out_stream, std::ostream& err_stream);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  std::ostream& out;   // data only
  std::ostream& err;   // messages, progress, notices
  bool stdin_tty = false;
  bool stdout_tty = false;
  bool stderr_tty = false;

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
  client::Client& client();
  // The client if a command created one (else null): for what runs after
  // the command, such as the update notice.
  client::Client* existing_client() { return m_client.get(); }

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
  std::unique_ptr<client::Client> m_client;
};

}  // namespace boxd::cli
