// The in-box end of `boxd box forward`: `boxd __relay HOST PORT` connects to
// HOST:PORT inside the box and shuttles bytes between its stdin/stdout and
// the socket. The Exec stream it runs in carries stdin and stdout, but has
// no way to say "stdout ended" apart from the command exiting, so stderr is
// the relay's control line:
//  - stdin EOF (the client half-closed the stream) -> shutdown(SHUT_WR) on
//    the socket, so the remote server sees the half-close;
//  - socket EOF (the server half-closed) -> the line
//    `boxd-relay-eof <N>\n` on stderr, N = bytes written to stdout so far.
//    The client half-closes its local side once it has written N bytes
//    (stderr and stdout are separate pipes: the line may overtake the data);
//  - anything else on stderr is an error message for the user, and a
//    nonzero exit status means the connection failed (connect refused, reset).
// The relay exits when both directions are done. Two threads, one per
// direction, with blocking I/O: neither direction can stall the other.
//
// The same protocol is spoken by k_python_relay, the fallback for boxes
// where the boxd binary cannot be uploaded (forward_remote.cpp).
#pragma once

namespace boxd::cli {

inline constexpr const char* k_relay_eof_marker = "boxd-relay-eof ";

// argv: boxd __relay HOST PORT. Returns the process exit status.
int forward_relay_main(int argc, char** argv);

// The same relay as a python3 program: `python3 -c SCRIPT HOST PORT`.
// It contains no single quote, so it can be single-quoted for sh.
extern const char* const k_python_relay;

}  // namespace boxd::cli
