// The Exec relay: one bidirectional gRPC stream <-> one process in a box.
//
// Why a callback reactor and not the sync API: with the sync API a handler
// that has sent the final exit chunk cannot return while another thread is
// blocked in Read() on the same stream, and most clients never half-close
// (they wait for the exit chunk). The only way out would be TryCancel(),
// which turns a finished command into a CANCELLED call. A reactor can
// Finish(OK) at any time: a pending read simply completes with ok=false.
//
// Exec() authenticates the call and takes its user's exec slot before any
// of this: a refused call gets no pipe and no thread (RefusedExec).
//
// How it works: gRPC callbacks (OnReadDone, OnWriteDone, OnCancel) only
// record what happened in a small shared state and poke a wakeup pipe. One
// pump thread per call does all the work:
//  1. waits for the first client chunk (vm_id, command, tty, cols, rows),
//     resolves the box (it must be running) and starts the process;
//  2. poll()s stdout, stderr, the exit fd, the command's stdin (only while
//     there is stdin to write) and the wakeup pipe;
//  3. sends output as it comes, one write in flight at a time: a slow client
//     stops the reads, the process blocks on a full pipe, and memory stays
//     bounded (backpressure end to end). Without a PTY the pipes are grown
//     to 1 MiB and each readable pipe is read until it is empty or 1 MiB is
//     in hand, so bulk output travels in 1 MiB messages (16x fewer messages,
//     thread hand-offs and window updates than 64 KiB ones), and the next
//     chunk is read while the previous one is being written. With a PTY one
//     read (at most 64 KiB) is sent at once, so keystroke echo is not held;
//  4. relays stdin the same way in the other direction: the next client
//     chunk is requested while at most one chunk waits to be written (so
//     reading overlaps writing, and memory stays bounded); the chunks' data
//     stays in the slices gRPC received it in and is written from them with
//     writev, never copied;
//     a client half-close becomes EOF on stdin (close_stdin) once the
//     buffered stdin is written; window_change chunks resize the PTY.
//     With a PTY, a keystroke skips the hop to the pump thread: while the
//     pump holds no stdin, OnReadDone writes a small data chunk straight to
//     the (nonblocking) PTY master and asks for the next chunk itself (see
//     ExecShared::direct_fd for why the order of stdin is kept); what it
//     cannot write at once goes to the pump as before;
//  5. once the main process has exited, drains the output until EOF, but
//     stops after 100 ms without data (a background child can keep a pipe
//     open forever), then ALWAYS sends the final chunk with exit_code
//     (128+N for signal N) and finishes with OK.
// Cancellation (client cancel, deadline, disconnect, server shutdown) or a
// failed write kills the command's process group with SIGKILL, reaps it and
// finishes with CANCELLED.
//
// Raw bytes both ways: the service takes Exec as grpc::ByteBuffer messages.
// A received chunk is parsed by chunk_wire.hpp (protobuf's verdict on
// anything unusual; a chunk protobuf refuses ends the call with
// INVALID_ARGUMENT), its data left in the received slices (ReceivedExec).
// Output is read into pooled buffers that gRPC sends as they are
// (zero_copy.hpp); the bytes on the wire are those protobuf would write.
//
// What can go wrong: the reactor object is deleted by gRPC in OnDone, which
// can only run after Finish(); so the pump thread never touches the reactor
// after calling Finish(), and the state both share is reference counted.
#include <fcntl.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/zero_copy.hpp"
#include "local/fault.hpp"
#include "local/received_chunk.hpp"
#include "local/service.hpp"
#include "local/stdin_queue.hpp"

namespace boxd::local {

namespace {

using grpc::Status;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_pty_chunk_bytes = 64 * 1024;
constexpr std::size_t k_pipe_chunk_bytes = 1024 * 1024;
constexpr auto k_drain_quiet = std::chrono::milliseconds(100);
// Output smaller than this is copied into a slice of its own (the pooled
// buffer goes straight back); larger output is sent from the buffer.
constexpr std::size_t k_copy_below = 32 * 1024;
constexpr int k_data_field = 1;  // ExecChunk.data
constexpr const char* k_bad_chunk = "exec: an ExecChunk that is not a valid message";

// What follows the data of a stderr chunk: is_stderr = true, as protobuf
// writes it (after data, the lowest field).
const std::string& stderr_tail() {
  static const std::string tail = [] {
    api::ExecChunk chunk;
    chunk.set_is_stderr(true);
    return chunk.SerializeAsString();
  }();
  return tail;
}

struct ExecShared {
  std::mutex mutex;
  std::condition_variable cv;
  bool have_input = false;
  std::unique_ptr<ReceivedExec> input;
  std::size_t input_skip = 0;  // bytes of its data already written (keystroke path)
  bool input_bad = false;      // a chunk protobuf refuses: the call ends
  bool read_eof = false;
  bool write_pending = false;
  bool write_ok = true;
  bool cancelled = false;
  // PTY sessions only: the master, while OnReadDone may write a keystroke
  // chunk to it directly; -1 otherwise. Only the pump sets it, at the end
  // of a round in which it holds no stdin and has no chunk waiting
  // (have_input), so nothing it holds can be overtaken. OnReadDone sets it
  // back to -1 whenever it hands a chunk to the pump instead (until the
  // pump has written that one). direct_busy: OnReadDones writing to the
  // fd or asking for the next chunk; the pump waits for them to end after
  // setting direct_fd to -1 for good (before the fd is closed and before
  // Finish).
  int direct_fd = -1;
  int direct_busy = 0;
  Pipe wake{O_CLOEXEC | O_NONBLOCK};  // poked by the callbacks, polled by the pump

  void wakeup() const { wake.notify('x'); }
};

// A call refused before anything is set up for it (no pipe, no thread):
// unauthenticated, or past its user's or the server's exec cap.
class RefusedExec final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RefusedExec(Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

class ExecReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // `slot`: the user's exec slot, held until the pump thread is done.
  ExecReactor(BoxdService& service, AuthResult auth, UserSlots::Slot slot)
      : m_service(service),
        m_auth(std::move(auth)),
        m_slot(std::move(slot)),
        m_shared(std::make_shared<ExecShared>()) {
    StartRead(&m_in);
    std::thread([this, shared = m_shared] { pump(); }).detach();
  }

  void OnReadDone(bool ok) override {
    // m_in is ours until the next StartRead, which comes after this chunk
    // has been handed on.
    std::unique_ptr<ReceivedExec> chunk;
    bool valid = true;
    if (ok) {
      chunk = std::make_unique<ReceivedExec>();
      valid = chunk->take(m_in);
    }
    int direct = -1;
    {
      std::lock_guard lock(m_shared->mutex);
      if (ok && valid && m_shared->direct_fd >= 0 && keystroke(chunk->chunk())) {
        direct = m_shared->direct_fd;
        ++m_shared->direct_busy;
      } else {
        // To the pump; the keystroke path stays closed until the pump has
        // written this chunk (in the same locked step, so the pump cannot
        // reopen it in between).
        m_shared->direct_fd = -1;
        hand_over(ok, valid, std::move(chunk), 0);
      }
    }
    if (direct >= 0) {
      write_direct(direct, std::move(chunk));
    } else {
      m_shared->wakeup();
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(m_shared->mutex);
      m_shared->write_pending = false;
      m_shared->write_ok = ok;
    }
    m_shared->cv.notify_all();
  }

  void OnCancel() override {
    {
      std::lock_guard lock(m_shared->mutex);
      m_shared->cancelled = true;
    }
    m_shared->cv.notify_all();
    m_shared->wakeup();
  }

  void OnDone() override { delete this; }

 private:
  // The read's result to the pump (mutex held): the chunk (its first
  // `skip` data bytes written already), a refused chunk, or EOF.
  void hand_over(bool ok, bool valid, std::unique_ptr<ReceivedExec> chunk, std::size_t skip) {
    if (!ok) {
      m_shared->read_eof = true;
    } else if (!valid) {
      m_shared->input_bad = true;
    } else {
      m_shared->input = std::move(chunk);
      m_shared->input_skip = skip;
      m_shared->have_input = true;
    }
  }

  // What the keystroke path takes: a small data chunk.
  static bool keystroke(const ExecChunkView& chunk) {
    constexpr std::size_t k_direct_max = 4096;
    return !chunk.fields.window_change() && chunk.data_size > 0 && chunk.data_size <= k_direct_max;
  }

  // The keystroke path (header, step 4): writes the chunk's data to the PTY
  // master `fd` and asks for the next read; what cannot be written at once
  // goes to the pump.
  void write_direct(int fd, std::unique_ptr<ReceivedExec> chunk) {
    ExecShared& s = *m_shared;
    const ExecChunkView& view = chunk->chunk();
    // A keystroke is in a few pieces; more than fit here is a partial write.
    std::array<iovec, 16> iov{};
    const auto count = static_cast<int>(data_iovecs(view, 0, 0, iov));
    ssize_t n = 0;
    do {
      n = ::writev(fd, iov.data(), count);
    } while (n < 0 && errno == EINTR);
    const bool whole = n == static_cast<ssize_t>(view.data_size);
    if (whole) {
      StartRead(&m_in);
    }
    {
      std::lock_guard lock(s.mutex);
      --s.direct_busy;
      if (!whole) {
        s.direct_fd = -1;
        hand_over(true, true, std::move(chunk), n > 0 ? static_cast<std::size_t>(n) : 0);
      }
    }
    s.cv.notify_all();
    if (!whole) {
      s.wakeup();
    }
  }

  // Ends the keystroke path for good: after this, OnReadDone neither
  // writes to the PTY nor asks for another read.
  void stop_direct() {
    std::unique_lock lock(m_shared->mutex);
    m_shared->direct_fd = -1;
    m_shared->cv.wait(lock, [&] { return m_shared->direct_busy == 0; });
  }

  // Waits until the write in flight, if any, is done; false if it failed
  // (a cancelled call completes its pending write with ok=false).
  bool wait_write() {
    std::unique_lock lock(m_shared->mutex);
    m_shared->cv.wait(lock, [&] { return !m_shared->write_pending; });
    return m_shared->write_ok;
  }

  // One write in flight: waits for the previous one, then starts this one
  // and returns at once, so the caller can read the next chunk meanwhile.
  bool send(grpc::ByteBuffer message) {
    if (!wait_write()) {
      return false;
    }
    m_out.Swap(&message);
    {
      std::lock_guard lock(m_shared->mutex);
      m_shared->write_pending = true;
    }
    StartWrite(&m_out);
    return true;
  }

  void pump() {
    // Keep the shared state alive for the whole function, even after Finish.
    const auto shared = m_shared;
    // The user's exec slot, held until this thread is done (after Finish):
    // the last write below waits for a client that may never read.
    const std::optional<UserSlots::Slot> slot(std::move(m_slot));
    // The one error path of every RPC (service_rpc.hpp): a fault -> its status.
    Status status = Status::OK;
    try {
      relay(*shared);
    } catch (const std::exception& e) {
      status = m_service.status_of(e);
    }
    stop_direct();
    if (m_process) {
      if (!m_process->poll_exit()) {
        m_process->kill_group(SIGKILL);
        m_process->wait_exit();
      }
    }
    m_process.reset();
    wait_write();    // m_out must stay untouched until gRPC is done with it
    Finish(status);  // `this` may be gone from here on
  }

  // What the pump loop tracks between its steps (2-6 of the header).
  struct Pump {
    ExecProcess* proc = nullptr;
    bool tty = false;
    std::size_t chunk_limit = k_pipe_chunk_bytes;
    std::shared_ptr<SlicePool> pool;  // output buffers of chunk_limit bytes
    StdinQueue stdin;                 // client stdin not yet written to the command
    std::vector<iovec> iov = std::vector<iovec>(IOV_MAX);
    bool read_outstanding = false;
    bool eof_pending = false;  // the client half-closed; EOF once the stdin queued is written
    bool stdin_closed = false;
    int out_fd = -1;  // -1 once at EOF (the process owns the fds)
    int err_fd = -1;
    std::optional<ExitStatus> exit_status;
    Clock::time_point last_data = Clock::now();
  };

  // What one poll() found.
  struct Ready {
    bool out = false;
    bool err = false;
    bool exit = false;  // the main process may have exited: poll_exit() now
  };

  // Runs the call to its end; every failure is thrown (fault.hpp).
  void relay(ExecShared& s) {
    Pump p = start_command(wait_first_chunk(s));
    for (;;) {
      const Ready ready = wait_for_events(s, p);
      take_client_events(s, p);
      write_stdin(p);
      allow_direct(s, p);
      if ((ready.out && !forward(p, p.out_fd, false)) ||
          (ready.err && !forward(p, p.err_fd, true))) {
        fail(Fault::Cancelled, "exec: client went away");
      }
      if (ready.exit) {
        p.exit_status = p.proc->poll_exit();
        if (p.exit_status) {
          p.last_data = Clock::now();
        }
      }
      if (p.exit_status &&
          ((p.out_fd < 0 && p.err_fd < 0) || Clock::now() - p.last_data > k_drain_quiet)) {
        break;
      }
    }
    api::ExecChunk final_chunk;
    final_chunk.set_exit_code(p.exit_status->exit_code);
    if (!send(serialized(final_chunk))) {
      fail(Fault::Cancelled, "exec: client went away");
    }
  }

  // 1. The first chunk (vm_id, command, tty, cols, rows), within the
  // server's --stream-idle-timeout (a call that never sends it would hold
  // this thread for ever).
  std::unique_ptr<ReceivedExec> wait_first_chunk(ExecShared& s) {
    const auto deadline = Clock::now() + m_service.stream_idle_timeout();
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        m_service.log_stalled("Exec", m_auth.user_id);
        fail(Fault::DeadlineExceeded, "exec: no first chunk in time");
      }
      pollfd pfd{s.wake.read_fd(), POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      s.wake.drain();
      std::lock_guard lock(s.mutex);
      if (s.cancelled) {
        fail(Fault::Cancelled, "exec cancelled");
      }
      if (s.input_bad) {
        fail(Fault::InvalidArgument, k_bad_chunk);
      }
      if (s.have_input) {
        s.have_input = false;
        if (s.input->chunk().fields.vm_id().empty()) {
          fail(Fault::InvalidArgument, "exec: the first chunk must carry vm_id");
        }
        return std::move(s.input);
      }
      if (s.read_eof) {
        fail(Fault::InvalidArgument, "exec: the first chunk must carry vm_id and command");
      }
    }
  }

  // Resolves the box (it must be running) and starts the command in it.
  Pump start_command(std::unique_ptr<ReceivedExec> first_chunk) {
    const api::ExecChunk& first = first_chunk->chunk().fields;  // until first_chunk moves below
    const bool first_has_stdin = first.stdin();
    const auto target = m_service.resolve_exec(m_auth.user_id, first.vm_id());
    ExecSpec spec;
    spec.command = first.command();
    spec.tty = first.tty();
    if (first.cols() > 0 && first.rows() > 0) {
      spec.cols = first.cols();
      spec.rows = first.rows();
    }
    m_process = m_service.runtime().exec(target.spec, target.handle, spec);
    Pump p;
    p.proc = m_process.get();
    p.tty = spec.tty;
    p.chunk_limit = spec.tty ? k_pty_chunk_bytes : k_pipe_chunk_bytes;
    p.pool = SlicePool::create(p.chunk_limit);
    p.out_fd = p.proc->stdout_fd();
    p.err_fd = p.proc->stderr_fd();
    if (!spec.tty) {
      for (const int fd : {p.out_fd, p.err_fd, p.proc->stdin_fd()}) {
        if (fd >= 0) {
          ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(k_pipe_chunk_bytes));  // best effort
        }
      }
    }
    if (first_has_stdin) {
      p.stdin.push(std::move(first_chunk), 0);
    }
    if (p.stdin.empty()) {
      StartRead(&m_in);
      p.read_outstanding = true;
    }
    return p;
  }

  // 2. Waits for output, the exit, room in the command's stdin (only while
  // there is stdin to write) or a client event.
  static Ready wait_for_events(ExecShared& s, const Pump& p) {
    pollfd fds[5];
    nfds_t n = 0;
    fds[n++] = pollfd{s.wake.read_fd(), POLLIN, 0};
    const nfds_t out_index = n;
    if (p.out_fd >= 0) {
      fds[n++] = pollfd{p.out_fd, POLLIN, 0};
    }
    const nfds_t err_index = n;
    if (p.err_fd >= 0) {
      fds[n++] = pollfd{p.err_fd, POLLIN, 0};
    }
    const nfds_t exit_index = n;
    const int exit_fd = p.exit_status ? -1 : p.proc->exit_fd();
    if (exit_fd >= 0) {
      fds[n++] = pollfd{exit_fd, POLLIN, 0};
    }
    if (!p.stdin.empty() && p.proc->stdin_fd() >= 0) {
      fds[n++] = pollfd{p.proc->stdin_fd(), POLLOUT, 0};
    }
    int timeout = -1;
    if (p.exit_status) {
      timeout = 20;
    } else if (exit_fd < 0) {
      timeout = 50;
    }
    if (::poll(fds, n, timeout) < 0 && errno != EINTR) {
      fail(Fault::Internal, "exec: poll failed");
    }
    s.wake.drain();
    constexpr short k_readable = POLLIN | POLLHUP | POLLERR;
    Ready ready;
    ready.out = p.out_fd >= 0 && (fds[out_index].revents & k_readable) != 0;
    ready.err = p.err_fd >= 0 && (fds[err_index].revents & k_readable) != 0;
    ready.exit = !p.exit_status && (exit_fd < 0 || (fds[exit_index].revents & POLLIN) != 0);
    return ready;
  }

  // 3. Client events: cancellation, stdin data, window changes, half-close.
  static void take_client_events(ExecShared& s, Pump& p) {
    std::lock_guard lock(s.mutex);
    if (s.cancelled) {
      fail(Fault::Cancelled, "exec cancelled");
    }
    // Once the command has exited, its exit code is what the call ends
    // with (a chunk that comes while the output drains is dropped anyway).
    if (s.input_bad && !p.exit_status) {
      fail(Fault::InvalidArgument, k_bad_chunk);
    }
    if (s.have_input) {
      std::unique_ptr<ReceivedExec> chunk = std::move(s.input);
      p.read_outstanding = false;
      s.have_input = false;
      const api::ExecChunk& in = chunk->chunk().fields;
      if (in.window_change() && in.cols() > 0 && in.rows() > 0) {
        p.proc->resize(in.cols(), in.rows());
      }
      if (!p.stdin_closed && !p.exit_status) {
        p.stdin.push(std::move(chunk), s.input_skip);
      }
    }
    if (s.read_eof) {
      p.eof_pending = true;
    }
  }

  // 4. Stdin: writes what the command takes, EOF after a half-close, and
  // asks for the next client chunk while less than one chunk waits (reading
  // overlaps writing, memory stays bounded).
  void write_stdin(Pump& p) {
    const int fd = p.proc->stdin_fd();
    if (!p.stdin.empty() && fd >= 0) {
      const auto w = ::writev(fd, p.iov.data(), p.stdin.gather(p.iov));
      if (w > 0) {
        p.stdin.consume(static_cast<std::size_t>(w));
      } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close_input(p);  // EPIPE: the command closed its stdin; drop the rest
      }
    } else if (fd < 0) {
      p.stdin.clear();
    }
    if (p.stdin.empty() && p.eof_pending) {
      close_input(p);
    }
    // At most two chunks wait (one being written, the next one in hand).
    if (p.stdin.size() < 2 && !p.read_outstanding && !p.eof_pending && !p.exit_status) {
      StartRead(&m_in);
      p.read_outstanding = true;
    }
  }

  // Lets OnReadDone write keystrokes itself while the pump holds no stdin
  // (ExecShared::direct_fd).
  static void allow_direct(ExecShared& s, const Pump& p) {
    if (!p.tty) {
      return;
    }
    const bool idle = p.stdin.empty() && !p.eof_pending && !p.stdin_closed && !p.exit_status &&
                      p.read_outstanding;
    std::lock_guard lock(s.mutex);
    s.direct_fd = idle && !s.have_input && !s.read_eof && !s.cancelled ? p.proc->stdin_fd() : -1;
  }

  static void close_input(Pump& p) {
    if (!p.stdin_closed) {
      p.proc->close_stdin();
      p.stdin_closed = true;
    }
    p.stdin.clear();
  }

  // 5. Reads what fd has (up to chunk_limit; one read with a PTY) into a
  // pooled buffer and sends it; false when the client is gone.
  bool forward(Pump& p, int& fd, bool is_stderr) {
    auto buffer = p.pool->take();
    std::size_t got = 0;
    bool at_end = false;
    while (got < p.chunk_limit) {
      const auto n = ::read(fd, buffer.get() + got, p.chunk_limit - got);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
        if (p.tty) {
          break;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      // EOF, or EIO on a PTY whose other side is closed; EAGAIN: empty for now.
      at_end = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      break;
    }
    if (at_end) {
      fd = -1;  // the process owns the fd
    }
    if (got == 0) {
      p.pool->put(std::move(buffer));
      return true;
    }
    p.last_data = Clock::now();
    grpc::Slice data;
    if (got < k_copy_below) {
      data = grpc::Slice(buffer.get(), got);  // a copy
      p.pool->put(std::move(buffer));
    } else {
      data = p.pool->wrap(std::move(buffer), got);
    }
    return send(message_with_payload({}, k_data_field, std::move(data),
                                     is_stderr ? stderr_tail() : std::string()));
  }

  BoxdService& m_service;
  AuthResult m_auth;
  std::optional<UserSlots::Slot> m_slot;  // moved to the pump thread
  std::shared_ptr<ExecShared> m_shared;
  std::unique_ptr<ExecProcess> m_process;
  grpc::ByteBuffer m_in;
  grpc::ByteBuffer m_out;
};

}  // namespace

// Authentication and the exec slot come first: a refused call (a flood of
// them) costs no pipe and no thread.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BoxdService::Exec(
    grpc::CallbackServerContext* context) {
  Status refused;
  try {
    AuthResult auth = authenticate(context);
    if (auth.failure != AuthFailure::None) {
      fail(Fault::Unauthenticated, auth.message());
    }
    UserSlots::Slot slot = take_exec_slot(auth.user_id);
    return new ExecReactor(*this, std::move(auth), std::move(slot));
  } catch (const std::exception& e) {
    refused = status_of(e);
  }
  return new RefusedExec(std::move(refused));
}

}  // namespace boxd::local
