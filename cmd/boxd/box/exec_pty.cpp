#include "boxd/box/exec_pty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <thread>

#include "boxd/box/exec_relay.hpp"
#include "boxd/term/terminal.hpp"
#include "common/error.hpp"

namespace boxd::cli {

namespace {

// SIGWINCH -> one byte on this pipe (async-signal-safe).
std::atomic<int> g_winch_fd{-1};

extern "C" void on_winch(int) {
  const int saved = errno;
  const int fd = g_winch_fd.load();
  if (fd >= 0) {
    const char byte = 'w';
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved;
}

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw Error(ErrorClass::Internal, "cannot create a pipe");
    }
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~Pipe() {
    ::close(read_fd);
    ::close(write_fd);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void notify() const {
    const char byte = 'x';
    [[maybe_unused]] const ssize_t n = ::write(write_fd, &byte, 1);
  }
  void drain() const {
    char buffer[64];
    while (::read(read_fd, buffer, sizeof buffer) > 0) {
    }
  }
};

// Installs the SIGWINCH handler for the lifetime of the session.
class WinchGuard {
 public:
  explicit WinchGuard(int fd) {
    g_winch_fd.store(fd);
    struct sigaction sa{};
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGWINCH, &sa, &m_previous);
  }
  ~WinchGuard() {
    ::sigaction(SIGWINCH, &m_previous, nullptr);
    g_winch_fd.store(-1);
  }
  WinchGuard(const WinchGuard&) = delete;
  WinchGuard& operator=(const WinchGuard&) = delete;

 private:
  struct sigaction m_previous{};
};

}  // namespace

PtyRelayResult relay_pty(client::ExecSession& session, const PtyRelayOptions& options) {
  PtyRelayResult result;
  Pipe winch;
  Pipe stop;
  WinchGuard winch_guard(winch.write_fd);
  std::unique_ptr<RawTerminal> raw;
  if (::isatty(options.stdin_fd) != 0) {
    raw = std::make_unique<RawTerminal>(options.stdin_fd);
  }
  std::atomic<bool> escaped{false};

  // The input thread: keystrokes (through the escape filter) and resizes.
  std::thread input([&] {
    EscapeFilter filter(options.escape_char);
    bool stdin_open = options.relay_stdin;
    if (!stdin_open) {
      session.close_stdin();
    }
    const int size_fd = ::isatty(options.stdout_fd) != 0 ? options.stdout_fd : options.stdin_fd;
    char buffer[16384];
    while (true) {
      pollfd fds[3] = {{stop.read_fd, POLLIN, 0},
                       {winch.read_fd, POLLIN, 0},
                       {stdin_open ? options.stdin_fd : -1, POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        return;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        winch.drain();
        if (auto size = window_size(size_fd)) {
          if (!session.resize(size->cols, size->rows)) {
            return;
          }
        }
      }
      if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t n = ::read(options.stdin_fd, buffer, sizeof buffer);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
          continue;
        }
        if (n <= 0) {
          stdin_open = false;
          session.close_stdin();
          continue;
        }
        auto filtered = filter.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        if (!filtered.forward.empty() && !session.write_stdin(filtered.forward)) {
          return;
        }
        if (filtered.disconnect) {
          escaped.store(true);
          session.cancel();
          return;
        }
      }
    }
  });

  std::exception_ptr failure;
  try {
    api::v1::ExecChunk chunk;
    while (session.read(chunk)) {
      if (chunk.stdin() || chunk.window_change()) {
        continue;
      }
      if (chunk.exit_code() != 0) {
        result.exit_code = chunk.exit_code();
      }
      const std::string& data = chunk.data();
      if (!data.empty() && !write_all(options.stdout_fd, data.data(), data.size())) {
        session.cancel();
        break;
      }
    }
    session.finish();
  } catch (...) {
    failure = std::current_exception();
  }
  session.cancel();
  stop.notify();
  input.join();
  raw.reset();  // restore before anything is printed
  result.escaped = escaped.load();
  if (failure && !result.escaped) {
    std::rethrow_exception(failure);
  }
  return result;
}

}  // namespace boxd::cli
