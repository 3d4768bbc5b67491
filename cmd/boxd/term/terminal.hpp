// The local terminal during an interactive session.
//
// RawTerminal puts a tty into raw mode and restores the exact original
// termios on every way out: its destructor (normal exit, remote exit, error,
// lost connection) and, for signals that would otherwise kill boxd with the
// terminal still raw (SIGINT, SIGTERM, SIGHUP, SIGQUIT), a handler that
// restores the saved termios with tcsetattr (async-signal-safe) and then
// re-raises the signal with its default action. Only one terminal is raw at a
// time, so the saved state lives in a process-wide slot the handler can read.
#pragma once

#include <termios.h>

#include <optional>
#include <string>
#include <string_view>

namespace boxd::cli {

struct WindowSize {
  unsigned cols = 0;
  unsigned rows = 0;
};

// The size of the terminal on fd, or nullopt when fd is not a terminal.
std::optional<WindowSize> window_size(int fd);

class RawTerminal {
 public:
  // Saves fd's termios and switches it to raw mode (cfmakeraw, keeping
  // output post-processing off too, as ssh does). Throws boxd::Error on failure.
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  // Restores the original termios now (idempotent).
  void restore();

 private:
  int m_fd;
  termios m_saved{};
  bool m_active = false;
};

// ssh-style escape sequences on the typed byte stream: the escape character
// (default '~') is special only as the first byte of a line (after CR or LF,
// or at the very start). Then "~." ends the session, "~~" sends one '~', and
// '~' followed by anything else sends both bytes. Nothing but a line-leading
// '~' is ever held back, so ordinary keys (Ctrl-P included) pass at once.
class EscapeFilter {
 public:
  // nullopt disables escapes (--escape-char none).
  explicit EscapeFilter(std::optional<char> escape_char);

  struct Result {
    std::string forward;      // bytes to send to the remote side
    bool disconnect = false;  // "~." seen: end the session now
  };
  Result feed(std::string_view input);

 private:
  std::optional<char> m_escape;
  bool m_at_line_start = true;
  bool m_pending = false;  // a line-leading escape char is being held
};

// Parses --escape-char: "none", a single character, or "^X" for a control char.
// Throws boxd::Error(Usage) otherwise.
std::optional<char> parse_escape_char(std::string_view text);

}  // namespace boxd::cli
