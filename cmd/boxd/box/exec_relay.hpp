// The non-PTY exec relay: moves bytes between the local process and one
// Exec stream until the remote command ends.
//
// Three threads take part:
//  - the caller's thread reads server chunks and write(2)s their data to
//    fd 1 (or fd 2 when is_stderr) byte for byte, unbuffered, looping on
//    partial writes, and remembers the exit_code of the final chunk (a stream
//    that ends without one means 0). With `collect`, output is kept in
//    memory instead (exec --json); with `on_output`, each chunk is handed to
//    that callback instead (exec --jsonl).
//  - a stdin pump (only when stdin is relayed) poll(2)s fd 0 and a wake-up
//    pipe, sends what it reads in chunks of up to 1 MiB, and half-closes the
//    stream at EOF, so `echo x | boxd box exec vm -- cat` ends. When stdin is
//    not relayed, the stream is half-closed before anything else.
//  - a signal watcher: SIGINT/SIGTERM handlers only write the signal number
//    into a self-pipe (common/fd.hpp's SignalPipe); the watcher thread reads it and
//    cancels the call, which makes the server kill the remote process group.
//    A second signal, or a relay still running 3 s later (say, blocked
//    writing to a stdout nobody reads), ends the process with 128+N at once.
//
// What can go wrong, and what happens:
//  - local stdout is closed (`| head`): write(2) fails with EPIPE (SIGPIPE is
//    ignored by main); the call is cancelled and the relay reports
//    stdout_closed. We deliberately end with exit 0 and no message, like a
//    well-behaved filter, unless the remote already reported a failure.
//  - the stdin pump blocks inside a write to a stream whose call has ended:
//    after the stream's status is in, the call is cancelled (a no-op for a
//    finished call) so the write returns, then the pump is joined.
//  - a blocking read(2) on a terminal would never return: the pump never
//    calls read without poll saying there is data, and the wake-up pipe
//    ends the poll.
//  - output is never buffered beyond one chunk, so memory stays bounded
//    (except in collect mode, which by definition keeps everything).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "client/client_api.hpp"
#include "common/fd.hpp"  // write_all

namespace boxd::cli {

struct RelayOptions {
  bool relay_stdin = false;  // pump fd 0 into the session; else close stdin at once
  bool collect = false;      // keep output in memory instead of writing it
  // When set, every output chunk goes here instead of fds 1/2 (exec --jsonl);
  // returning false means the sink is closed, handled like EPIPE on stdout.
  std::function<bool(bool is_stderr, std::string_view data)> on_output;
  // The raw fds the bytes move through: the CLI passes the ones its
  // Context hands out (Context::in_fd/out_fd/err_fd, the process's 0/1/2).
  int stdin_fd = 0;
  int stdout_fd = 1;
  int stderr_fd = 2;
};

struct RelayResult {
  int exit_code = 0;
  bool stdout_closed = false;  // local stdout hit EPIPE; the call was cancelled
  int interrupted_by = 0;      // SIGINT or SIGTERM received; the call was cancelled
  std::string stdout_data;     // collect mode only
  std::string stderr_data;     // collect mode only
};

// Runs until the remote command ends, the call fails, or we cancel it.
// Throws boxd::Error when the call failed for a reason other than our own
// cancellation (e.g. TimeoutError for a --timeout deadline).
RelayResult relay_exec(client::ExecSession& session, const RelayOptions& options);

// The output loop both relays share (this one and relay_pty): reads the
// stream to its end, skipping the echoes of stdin and window changes, keeps
// the last non-zero exit code in `exit_code` and hands every other chunk to
// `on_chunk` (false from it stops reading); then finish(), which throws the
// call's error.
void read_exec_chunks(client::ExecSession& session, int& exit_code,
                      const std::function<bool(const api::v1::ExecChunk&)>& on_chunk);

}  // namespace boxd::cli
