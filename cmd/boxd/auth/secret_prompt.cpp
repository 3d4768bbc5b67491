#include "boxd/auth/secret_prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ostream>

#include "common/error.hpp"

namespace boxd::cli {

namespace {

constexpr int k_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// One prompt at a time: the handler reads these.
int g_fd = -1;
termios g_saved{};

void restore_and_reraise(int sig) {
  if (g_fd >= 0) {
    ::tcsetattr(g_fd, TCSANOW, &g_saved);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

class EchoOff {
 public:
  explicit EchoOff(int fd) {
    if (::tcgetattr(fd, &g_saved) != 0) {
      return;
    }
    struct sigaction action {};
    action.sa_handler = restore_and_reraise;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(k_signals); ++i) {
      ::sigaction(k_signals[i], &action, &m_old[i]);
    }
    g_fd = fd;
    termios quiet = g_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSANOW, &quiet);
    m_active = true;
  }
  ~EchoOff() {
    if (!m_active) {
      return;
    }
    ::tcsetattr(g_fd, TCSANOW, &g_saved);
    g_fd = -1;
    for (std::size_t i = 0; i < std::size(k_signals); ++i) {
      ::sigaction(k_signals[i], &m_old[i], nullptr);
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  bool m_active = false;
  struct sigaction m_old[std::size(k_signals)]{};
};

}  // namespace

std::string read_secret_line(int fd, std::ostream& err, const std::string& prompt) {
  err << prompt << std::flush;
  std::string line;
  bool complete = false;
  {
    EchoOff guard(fd);
    char c = 0;
    for (;;) {
      const ssize_t n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      if (c == '\n' || c == '\r') {
        complete = true;
        break;
      }
      line += c;
      if (line.size() > 4096) {
        break;
      }
    }
  }
  if (!complete) {
    err << "\n";
    throw Error(ErrorClass::Usage, "no API key entered");
  }
  return line;
}

}  // namespace boxd::cli
