// One forwarded connection: a local byte stream <-> one Exec stream running
// the in-box relay (forward_relay.hpp). Used for each accepted TCP
// connection of `box forward` and for stdin/stdout with `--stdio`.
//
// Two threads: the caller's reads the Exec stream and writes stdout chunks to
// `out_fd`; a pump poll(2)s `in_fd` and a stop pipe and sends what it reads
// as stdin chunks (up to 256 KiB each). Half-closes travel both ways:
//  - EOF on in_fd -> the stream is half-closed -> the relay's stdin EOF ->
//    shutdown(SHUT_WR) on the box's socket;
//  - the relay's `boxd-relay-eof N` line, once N stdout bytes are written ->
//    shutdown(SHUT_WR) on a socket, or fd `out_fd` replaced by /dev/null
//    (its reader sees EOF).
// What can go wrong: the local peer goes away (write fails: the call is
// cancelled, the relay is killed; not reported as a failure), the relay
// fails (nonzero exit: its stderr is the error), the call fails (its
// message), or the registry is stopped (Ctrl-C: every call is cancelled).
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "client/client_api.hpp"

namespace boxd::cli {

// The calls in flight, so Ctrl-C can cancel them all.
class SessionRegistry {
 public:
  bool add(client::ExecSession* session);  // false (and cancelled) once stopping
  void remove(client::ExecSession* session);
  void stop_all();
  bool stopping() const;

 private:
  mutable std::mutex m_mutex;
  std::set<client::ExecSession*> m_sessions;
  bool m_stopping = false;
};

struct ConnectionEnds {
  int in_fd = -1;
  int out_fd = -1;
  bool socket = false;  // in_fd == out_fd is a socket: half-close with shutdown(2)
};

struct ConnectionResult {
  bool ok = true;
  std::string error;  // when !ok: the relay's or the call's message
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};

ConnectionResult relay_connection(client::ClientApi& client, const std::string& vm,
                                  const std::string& command, const ConnectionEnds& ends,
                                  SessionRegistry& registry);

}  // namespace boxd::cli
