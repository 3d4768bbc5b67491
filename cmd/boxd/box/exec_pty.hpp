// The interactive (PTY) exec relay: a person at a terminal, a remote PTY.
//
// Order matters. The session is already up when this starts (the first chunk,
// with tty, the size and TERM, went out with the call), and only then does
// the local terminal go raw, so Ctrl-C during connect still interrupts boxd.
// From then on every byte typed goes to the remote side as typed (Ctrl-C,
// Ctrl-D, Ctrl-Z included: the remote PTY's line discipline interprets them)
// except an escape sequence at the start of a line (~. ends the session,
// as in ssh). SIGWINCH is turned into a byte on a self-pipe, and the input
// thread sends a window_change chunk with the new size. Output is written
// to stdout as it comes (a PTY merges stderr into it).
//
// Every way out restores the terminal: the RawTerminal guard is destroyed
// when this function returns or throws (remote exit, server error, lost
// connection, ~.), and its signal handlers restore it before a fatal
// SIGINT/SIGTERM/SIGHUP/SIGQUIT takes boxd down.
#pragma once

#include <optional>

#include "client/client_api.hpp"

namespace boxd::cli {

struct PtyRelayOptions {
  std::optional<char> escape_char = '~';  // nullopt: escapes disabled
  bool relay_stdin = true;                // false: -n, close stdin at once
  // Context::in_fd/out_fd in the CLI (the process's 0/1).
  int stdin_fd = 0;
  int stdout_fd = 1;
};

struct PtyRelayResult {
  int exit_code = 0;
  bool escaped = false;  // the user typed the escape sequence
};

// Throws boxd::Error when the call failed (not when the user escaped).
PtyRelayResult relay_pty(client::ExecSession& session, const PtyRelayOptions& options);

}  // namespace boxd::cli
