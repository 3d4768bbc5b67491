#include "boxd/box/exec_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <exception>
#include <memory>
#include <string_view>
#include <thread>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace boxd::cli {

namespace {

constexpr std::size_t k_stdin_chunk =
    1024 * 1024;  // a file gives 1 MiB per read, a pipe what it holds
// After SIGINT/SIGTERM, how long the relay may take to end by itself.
constexpr int k_wind_down_ms = 3000;

void pump_stdin(client::ExecSession& session, int stdin_fd, int stop_fd) {
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
    // Read straight into the buffer the session sends (no copy between).
    bool sent = true;
    const long n = session.write_stdin_from(stdin_fd, k_stdin_chunk, sent);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      session.close_stdin();
      return;
    }
    if (!sent) {
      return;
    }
  }
}

void watch_signals(client::ExecSession& session, const SignalPipe& signals, int stop_fd,
                   std::atomic<int>& interrupted_by) {
  const int signal_fd = signals.fd();
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
      if (const int sig = signals.take(); sig != 0) {
        interrupted_by.store(sig);
        session.cancel();
        timeout_ms = k_wind_down_ms;
      }
    }
  }
}

// Bigger local pipes, fewer wake-ups for bulk data (best effort; a file or
// terminal is left alone).
void widen_pipes(const RelayOptions& options) {
  for (const int fd : {options.stdin_fd, options.stdout_fd}) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
      ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(k_stdin_chunk));
    }
  }
}

// One chunk's data to where it belongs: the callback, memory, or fds 1/2.
// A closed stdout (or sink) cancels the call; a closed stderr is ignored.
void deliver(const api::v1::ExecChunk& chunk, const RelayOptions& options,
             client::ExecSession& session, RelayResult& result, bool& stderr_open) {
  const std::string& data = chunk.data();
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

// Reads the stream to its end, keeping the last exit code; throws the
// call's error (from finish) if it failed.
void read_output(client::ExecSession& session, const RelayOptions& options, RelayResult& result) {
  bool stderr_open = true;
  read_exec_chunks(session, result.exit_code, [&](const api::v1::ExecChunk& chunk) {
    // After EPIPE: drain until the cancelled call ends.
    if (!chunk.data().empty() && !result.stdout_closed) {
      deliver(chunk, options, session, result, stderr_open);
    }
    return true;
  });
}

}  // namespace

void read_exec_chunks(client::ExecSession& session, int& exit_code,
                      const std::function<bool(const api::v1::ExecChunk&)>& on_chunk) {
  api::v1::ExecChunk chunk;
  while (session.read(chunk)) {
    if (chunk.stdin() || chunk.window_change()) {
      continue;
    }
    if (chunk.exit_code() != 0) {
      exit_code = chunk.exit_code();
    }
    if (!on_chunk(chunk)) {
      break;
    }
  }
  session.finish();
}

RelayResult relay_exec(client::ExecSession& session, const RelayOptions& options) {
  RelayResult result;
  const SignalPipe signals({SIGINT, SIGTERM});
  const Pipe stop_stdin;
  const Pipe stop_watcher;
  std::atomic<int> interrupted_by{0};

  widen_pipes(options);
  std::thread watcher(watch_signals, std::ref(session), std::cref(signals), stop_watcher.read_fd(),
                      std::ref(interrupted_by));
  std::thread stdin_pump;
  if (options.relay_stdin) {
    stdin_pump = std::thread(pump_stdin, std::ref(session), options.stdin_fd, stop_stdin.read_fd());
  } else {
    session.close_stdin();
  }

  std::exception_ptr failure;
  try {
    read_output(session, options, result);
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
