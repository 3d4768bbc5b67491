// File descriptors: the owning handle (UniqueFd), a pipe, whole reads and
// writes, and the self-pipe that turns signals into bytes a poll loop can
// wait for. Every place that needs one of these uses this header; there are
// no private copies.
#pragma once

#include <fcntl.h>
#include <signal.h>

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace boxd {

// Loop over partial reads/writes and EINTR. False on any other error or on
// end of file before `size` bytes (EPIPE, EIO...). A nonblocking fd that
// would block is an error too (EAGAIN): use these on blocking fds.
bool write_all(int fd, const void* data, std::size_t size);
bool write_all(int fd, std::string_view data);
bool read_all(int fd, void* data, std::size_t size);

// Both ends of a pipe2(flags), each closed with the Pipe (or moved out).
// Throws boxd::Error (Internal) when the pipe cannot be made.
class Pipe {
 public:
  explicit Pipe(int flags = O_CLOEXEC);
  [[nodiscard]] int read_fd() const { return m_read.get(); }
  [[nodiscard]] int write_fd() const { return m_write.get(); }
  UniqueFd& read_end() { return m_read; }
  UniqueFd& write_end() { return m_write; }
  // Writes one byte (a wake-up for whoever polls read_fd()); never blocks
  // when the pipe is nonblocking, and a full pipe is already a wake-up.
  void notify(char byte = 0) const;
  // Reads whatever is buffered (the read end must be nonblocking).
  void drain() const;

 private:
  UniqueFd m_read;
  UniqueFd m_write;
};

// Routes signals to a nonblocking self-pipe for its lifetime: the handler
// (async-signal-safe: one write()) stores the signal's number as one byte,
// which a poll loop sees on fd() and reads with take(). The previous
// handlers come back on destruction. A signal belongs to one SignalPipe at a
// time (the newest).
class SignalPipe {
 public:
  // sa_flags: SA_RESTART keeps blocking calls of other threads going.
  explicit SignalPipe(std::initializer_list<int> signals, int sa_flags = SA_RESTART);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  [[nodiscard]] int fd() const { return m_pipe.read_fd(); }
  // The next signal received, or 0 when none is pending. Never blocks.
  int take() const;
  // Wakes the poll loop without a signal (take() then returns `byte`, not 0).
  void notify(char byte) const { m_pipe.notify(byte); }

 private:
  Pipe m_pipe;
  std::vector<std::pair<int, struct sigaction>> m_previous;
};

}  // namespace boxd
