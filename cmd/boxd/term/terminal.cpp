#include "boxd/term/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/error.hpp"

namespace boxd::cli {

namespace {

// The state the signal handler restores. Written before the handlers are
// installed and cleared after they are removed.
termios g_saved{};
std::atomic<int> g_raw_fd{-1};
constexpr int k_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
struct sigaction g_previous[std::size(k_signals)];

extern "C" void restore_and_reraise(int sig) {
  const int fd = g_raw_fd.load();
  if (fd >= 0) {
    ::tcsetattr(fd, TCSANOW, &g_saved);  // never wait on output in a handler
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

std::optional<WindowSize> window_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
    return std::nullopt;
  }
  return WindowSize{ws.ws_col, ws.ws_row};
}

RawTerminal::RawTerminal(int fd) : m_fd(fd) {
  if (::tcgetattr(fd, &m_saved) != 0) {
    throw Error(ErrorClass::Internal,
                std::string("cannot read terminal settings: ") + std::strerror(errno));
  }
  g_saved = m_saved;
  g_raw_fd.store(fd);
  struct sigaction sa {};
  sa.sa_handler = restore_and_reraise;
  sigemptyset(&sa.sa_mask);
  for (std::size_t i = 0; i < std::size(k_signals); ++i) {
    ::sigaction(k_signals[i], &sa, &g_previous[i]);
  }
  termios raw = m_saved;
  ::cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  // TCSADRAIN, not TCSAFLUSH: keys typed while the session was being set up
  // stay in the input queue and reach the remote side (as ssh does).
  if (::tcsetattr(fd, TCSADRAIN, &raw) != 0) {
    const int saved_errno = errno;
    restore();
    throw Error(ErrorClass::Internal, std::string("cannot switch the terminal to raw mode: ") +
                                          std::strerror(saved_errno));
  }
  m_active = true;
}

RawTerminal::~RawTerminal() {
  restore();
}

void RawTerminal::restore() {
  if (g_raw_fd.load() != m_fd) {
    return;
  }
  ::tcsetattr(m_fd, TCSADRAIN, &m_saved);
  g_raw_fd.store(-1);
  for (std::size_t i = 0; i < std::size(k_signals); ++i) {
    ::sigaction(k_signals[i], &g_previous[i], nullptr);
  }
  m_active = false;
}

EscapeFilter::EscapeFilter(std::optional<char> escape_char) : m_escape(escape_char) {}

EscapeFilter::Result EscapeFilter::feed(std::string_view input) {
  Result result;
  if (!m_escape) {
    result.forward.assign(input);
    return result;
  }
  for (char c : input) {
    if (m_pending) {
      m_pending = false;
      if (c == '.') {
        result.disconnect = true;
        return result;
      }
      if (c == *m_escape) {
        result.forward += c;  // "~~" sends one '~'
        m_at_line_start = false;
        continue;
      }
      result.forward += *m_escape;
    } else if (m_at_line_start && c == *m_escape) {
      m_pending = true;
      continue;
    }
    result.forward += c;
    m_at_line_start = (c == '\r' || c == '\n');
  }
  return result;
}

std::optional<char> parse_escape_char(std::string_view text) {
  if (text == "none") {
    return std::nullopt;
  }
  if (text.size() == 1) {
    return text.front();
  }
  if (text.size() == 2 && text.front() == '^') {
    const char c = text.back();
    if (c >= '@' && c <= '_') {
      return static_cast<char>(c - '@');
    }
    if (c >= 'a' && c <= 'z') {
      return static_cast<char>(c - 'a' + 1);
    }
  }
  throw Error(ErrorClass::Usage,
              "invalid --escape-char '" + std::string(text) + "': use one character, ^X, or none");
}

}  // namespace boxd::cli
