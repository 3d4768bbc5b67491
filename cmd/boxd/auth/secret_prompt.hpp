// Reading a secret at a terminal without echoing it. Echo is turned off on
// the terminal with termios and turned back on on every way out: normal
// return, exception, and SIGINT/SIGTERM/SIGHUP/SIGQUIT (a handler restores
// the saved termios with tcsetattr, which is async-signal-safe, then
// re-raises the signal with its default action).
#pragma once

#include <iosfwd>
#include <string>

namespace boxd::cli {

// Prints `prompt` on `err`, reads one line from fd with echo off, prints a
// newline. Throws boxd::Error(Usage) when the input ends first.
std::string read_secret_line(int fd, std::ostream& err, const std::string& prompt);

}  // namespace boxd::cli
