#include "boxd/box/forward_conn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <thread>

#include "boxd/box/forward_relay.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

namespace boxd::cli {

bool SessionRegistry::add(client::ExecSession* session) {
  std::lock_guard lock(m_mutex);
  if (m_stopping) {
    session->cancel();
    return false;
  }
  m_sessions.insert(session);
  return true;
}

void SessionRegistry::remove(client::ExecSession* session) {
  std::lock_guard lock(m_mutex);
  m_sessions.erase(session);
}

void SessionRegistry::stop_all() {
  std::lock_guard lock(m_mutex);
  m_stopping = true;
  for (auto* session : m_sessions) {
    session->cancel();
  }
}

bool SessionRegistry::stopping() const {
  std::lock_guard lock(m_mutex);
  return m_stopping;
}

namespace {

constexpr std::size_t k_up_chunk = 256 * 1024;
constexpr std::size_t k_max_error_text = 4096;

// Local -> box. EOF half-closes the stream; a read error aborts the call.
void pump_up(client::ExecSession& session, int in_fd, int stop_fd,
             std::atomic<std::uint64_t>& sent) {
  std::string buffer(k_up_chunk, '\0');
  for (;;) {
    pollfd fds[2] = {{in_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      session.cancel();
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    if (fds[0].revents == 0) {
      continue;
    }
    const ssize_t n = ::read(in_fd, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n == 0) {
      session.close_stdin();
      return;
    }
    if (n < 0) {
      session.cancel();  // e.g. ECONNRESET from the local peer
      return;
    }
    buffer.resize(static_cast<std::size_t>(n));
    const bool ok = session.write_stdin(buffer);
    buffer.resize(k_up_chunk);
    if (!ok) {
      return;
    }
    sent += static_cast<std::uint64_t>(n);
  }
}

void half_close(const ConnectionEnds& ends) {
  if (ends.socket) {
    ::shutdown(ends.out_fd, SHUT_WR);
    return;
  }
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, ends.out_fd);
    ::close(null);
  }
}

// What the box -> local direction saw.
struct Down {
  int exit_code = 0;
  std::uint64_t written = 0;
  std::optional<std::uint64_t> eof_at;
  bool shut = false;
  bool local_gone = false;
  std::string pending;  // an unfinished stderr line
  std::string errors;
};

void take_stderr(Down& down, const std::string& data) {
  down.pending += data;
  std::size_t newline;
  while ((newline = down.pending.find('\n')) != std::string::npos) {
    std::string line = down.pending.substr(0, newline);
    down.pending.erase(0, newline + 1);
    const std::string marker = k_relay_eof_marker;
    if (line.rfind(marker, 0) == 0) {
      down.eof_at = std::strtoull(line.c_str() + marker.size(), nullptr, 10);
    } else if (down.errors.size() < k_max_error_text) {
      const std::string prefix = "boxd-relay: ";
      down.errors += (down.errors.empty() ? "" : "; ") +
                     (line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : line);
    }
  }
}

void pump_down(client::ExecSession& session, const ConnectionEnds& ends, Down& down) {
  api::v1::ExecChunk chunk;
  while (session.read(chunk)) {
    if (chunk.stdin() || chunk.window_change()) {
      continue;
    }
    if (chunk.exit_code() != 0) {
      down.exit_code = chunk.exit_code();
    }
    const std::string& data = chunk.data();
    if (chunk.is_stderr()) {
      take_stderr(down, data);
    } else if (!data.empty()) {
      if (!down.local_gone && !write_all(ends.out_fd, data.data(), data.size())) {
        down.local_gone = true;
        session.cancel();
      }
      down.written += data.size();
    }
    if (down.eof_at && down.written >= *down.eof_at && !down.shut && !down.local_gone) {
      half_close(ends);
      down.shut = true;
    }
  }
}

}  // namespace

ConnectionResult relay_connection(client::ClientApi& client, const std::string& vm,
                                  const std::string& command, const ConnectionEnds& ends,
                                  SessionRegistry& registry) {
  ConnectionResult result;
  client::ExecRequest request;
  request.vm = vm;
  request.command = command;
  std::unique_ptr<client::ExecSession> session;
  try {
    session = client.exec(request);
  } catch (const Error& e) {
    return {false, e.what(), 0, 0};
  }
  registry.add(session.get());
  const Pipe stop;
  std::atomic<std::uint64_t> sent{0};
  std::thread up(pump_up, std::ref(*session), ends.in_fd, stop.read_fd(), std::ref(sent));
  Down down;
  std::string call_error;
  try {
    pump_down(*session, ends, down);
    session->finish();
  } catch (const Error& e) {
    call_error = e.what();
  }
  session->cancel();  // unblocks a write_stdin still waiting; a no-op for a finished call
  stop.notify();
  up.join();
  registry.remove(session.get());
  result.sent = sent.load();
  result.received = down.written;
  if (down.local_gone || registry.stopping()) {
    return result;
  }
  if (!call_error.empty()) {
    result.ok = false;
    result.error = call_error;
  } else if (down.exit_code != 0) {
    take_stderr(down, "\n");  // a last line without its newline
    result.ok = false;
    result.error = !down.errors.empty()
                       ? down.errors
                       : "the relay in the box exited with " + std::to_string(down.exit_code);
  }
  return result;
}

}  // namespace boxd::cli
