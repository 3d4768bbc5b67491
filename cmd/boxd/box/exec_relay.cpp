#include "boxd/box/exec_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <exception>
#include <thread>

#include "common/error.hpp"

namespace boxd::cli {

namespace {

constexpr std::size_t k_stdin_chunk = 1024 * 1024;  // a file gives 1 MiB per read, a pipe what it holds
// After SIGINT/SIGTERM, how long the relay may take to end by itself.
constexpr int k_wind_down_ms = 3000;

// The self-pipe the signal handler writes to; one relay at a time.
std::atomic<int> g_signal_pipe{-1};

void on_exec_signal(int sig) {
  const int saved_errno = errno;
  const int fd = g_signal_pipe.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

class Pipe {
 public:
  Pipe() {
    if (::pipe2(m_fds, O_CLOEXEC) != 0) {
      throw Error(ErrorClass::Internal, "pipe: cannot create a pipe");
    }
  }
  ~Pipe() {
    ::close(m_fds[0]);
    ::close(m_fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end() const { return m_fds[0]; }
  int write_end() const { return m_fds[1]; }
  void notify() const {
    const char byte = 0;
    [[maybe_unused]] const ssize_t n = ::write(m_fds[1], &byte, 1);
  }

 private:
  int m_fds[2] = {-1, -1};
};

// Installs the SIGINT/SIGTERM handlers for the life of the relay.
class SignalRoute {
 public:
  explicit SignalRoute(const Pipe& pipe) {
    g_signal_pipe.store(pipe.write_end());
    struct sigaction action {};
    action.sa_handler = on_exec_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, &m_old_int);
    ::sigaction(SIGTERM, &action, &m_old_term);
  }
  ~SignalRoute() {
    ::sigaction(SIGINT, &m_old_int, nullptr);
    ::sigaction(SIGTERM, &m_old_term, nullptr);
    g_signal_pipe.store(-1);
  }
  SignalRoute(const SignalRoute&) = delete;
  SignalRoute& operator=(const SignalRoute&) = delete;

 private:
  struct sigaction m_old_int {};
  struct sigaction m_old_term {};
};

void pump_stdin(client::ExecSession& session, int stdin_fd, int stop_fd) {
  std::string buffer(k_stdin_chunk, '\0');
  for (;;) {
    pollfd fds[2] = {{stdin_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      session.close_stdin();
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    if (fds[0].revents == 0) {
      continue;
    }
    const ssize_t n = ::read(stdin_fd, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      session.close_stdin();
      return;
    }
    buffer.resize(static_cast<std::size_t>(n));  // keeps the capacity: no copy, no allocation
    const bool sent = session.write_stdin(buffer);
    buffer.resize(k_stdin_chunk);
    if (!sent) {
      return;
    }
  }
}

void watch_signals(client::ExecSession& session, int signal_fd, int stop_fd,
                   std::atomic<int>& interrupted_by) {
  int timeout_ms = -1;
  for (;;) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    const int first = interrupted_by.load();
    if (ready == 0 || (first != 0 && (fds[0].revents & POLLIN) != 0)) {
      // A second signal, or the relay did not wind down in time (blocked
      // writing to a stdout nobody reads): the call is cancelled already.
      ::_exit(128 + first);
    }
    if ((fds[0].revents & POLLIN) != 0) {
      unsigned char sig = 0;
      if (::read(signal_fd, &sig, 1) == 1) {
        interrupted_by.store(sig);
        session.cancel();
        timeout_ms = k_wind_down_ms;
      }
    }
  }
}

}  // namespace

RelayResult relay_exec(client::ExecSession& session, const RelayOptions& options) {
  RelayResult result;
  Pipe signals;
  Pipe stop_stdin;
  Pipe stop_watcher;
  std::atomic<int> interrupted_by{0};
  SignalRoute route(signals);

  // Bigger local pipes, fewer wake-ups for bulk data (best effort; a file or
  // terminal is left alone).
  for (const int fd : {options.stdin_fd, options.stdout_fd}) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
      ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(k_stdin_chunk));
    }
  }
  std::thread watcher(watch_signals, std::ref(session), signals.read_end(), stop_watcher.read_end(),
                      std::ref(interrupted_by));
  std::thread stdin_pump;
  if (options.relay_stdin) {
    stdin_pump = std::thread(pump_stdin, std::ref(session), options.stdin_fd, stop_stdin.read_end());
  } else {
    session.close_stdin();
  }

  bool stderr_open = true;
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
      if (data.empty() || result.stdout_closed) {
        continue;  // after EPIPE: drain until the cancelled call ends
      }
      if (options.on_output) {
        if (!options.on_output(chunk.is_stderr(), data)) {
          result.stdout_closed = true;
          session.cancel();
        }
      } else if (options.collect) {
        (chunk.is_stderr() ? result.stderr_data : result.stdout_data) += data;
      } else if (chunk.is_stderr()) {
        if (stderr_open && !write_all(options.stderr_fd, data.data(), data.size())) {
          stderr_open = false;
        }
      } else if (!write_all(options.stdout_fd, data.data(), data.size())) {
        result.stdout_closed = true;
        session.cancel();
      }
    }
    session.finish();
  } catch (...) {
    failure = std::current_exception();
  }

  // The call is over (or failing): unblock a stdin write that may still be
  // waiting on the stream, then stop and join both helpers.
  session.cancel();
  stop_stdin.notify();
  if (stdin_pump.joinable()) {
    stdin_pump.join();
  }
  stop_watcher.notify();
  watcher.join();

  result.interrupted_by = interrupted_by.load();
  if (failure && result.interrupted_by == 0 && !result.stdout_closed) {
    std::rethrow_exception(failure);
  }
  return result;
}

}  // namespace boxd::cli
