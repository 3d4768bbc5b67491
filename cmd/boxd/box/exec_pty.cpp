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
#include "common/fd.hpp"

namespace boxd::cli {

namespace {

// The input thread: keystrokes (through the escape filter) and resizes,
// until `stop_fd` is readable, the stream is closed or the escape is typed.
void pump_input(client::ExecSession& session, const PtyRelayOptions& options,
                const SignalPipe& winch, int stop_fd, std::atomic<bool>& escaped) {
  EscapeFilter filter(options.escape_char);
  bool stdin_open = options.relay_stdin;
  if (!stdin_open) {
    session.close_stdin();
  }
  const int size_fd = ::isatty(options.stdout_fd) != 0 ? options.stdout_fd : options.stdin_fd;
  char buffer[16384];
  while (true) {
    pollfd fds[3] = {{stop_fd, POLLIN, 0},
                     {winch.fd(), POLLIN, 0},
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
      while (winch.take() != 0) {
      }
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
}

// The output loop: every chunk's data to stdout as it comes, the last exit
// code kept; a closed stdout cancels the call. Throws the call's error.
void write_output(client::ExecSession& session, const PtyRelayOptions& options,
                  PtyRelayResult& result) {
  read_exec_chunks(session, result.exit_code, [&](const api::v1::ExecChunk& chunk) {
    const std::string& data = chunk.data();
    if (!data.empty() && !write_all(options.stdout_fd, data.data(), data.size())) {
      session.cancel();
      return false;
    }
    return true;
  });
}

}  // namespace

PtyRelayResult relay_pty(client::ExecSession& session, const PtyRelayOptions& options) {
  PtyRelayResult result;
  const SignalPipe winch({SIGWINCH});
  const Pipe stop(O_CLOEXEC | O_NONBLOCK);
  std::unique_ptr<RawTerminal> raw;
  if (::isatty(options.stdin_fd) != 0) {
    raw = std::make_unique<RawTerminal>(options.stdin_fd);
  }
  std::atomic<bool> escaped{false};
  std::thread input(pump_input, std::ref(session), std::cref(options), std::cref(winch),
                    stop.read_fd(), std::ref(escaped));

  std::exception_ptr failure;
  try {
    write_output(session, options, result);
  } catch (...) {
    failure = std::current_exception();
  }
  session.cancel();
  stop.notify('x');
  input.join();
  raw.reset();  // restore before anything is printed
  result.escaped = escaped.load();
  if (failure && !result.escaped) {
    std::rethrow_exception(failure);
  }
  return result;
}

}  // namespace boxd::cli
