// Which relay runs inside the box for `box forward` (forward_relay.hpp has
// the protocol), decided once per boxd process with one cheap exec:
//  - `boxd`: this very binary in its `__relay` mode, kept in the box at
//    $HOME/.cache/boxd/relay/boxd-<version>-<sha256 prefix> (per user and per
//    build). When missing it is uploaded once (UploadFileStream to a temp
//    name, then `sha256sum -c` in the box and an atomic rename), so a broken
//    upload never takes the final name; a cached one whose size no longer
//    matches is uploaded again. auto uses it when this binary is
//    statically linked (the released boxd) and the box has the same machine
//    architecture: it then needs nothing in the box but sh, mkdir, uname,
//    chmod, mv and sha256sum (coreutils).
//  - `python3`: a short python3 program passed inline (`python3 -c`); auto
//    uses it when the boxd binary does not fit (a dynamically linked build,
//    another architecture) and the box has python3 (stock Ubuntu does).
// The sha256 of this binary is cached by (device, inode, size, mtime) in
// $XDG_CACHE_HOME/boxd/self-sha256, so it is computed once per build.
#pragma once

#include <ostream>
#include <string>

#include "client/client_api.hpp"

namespace boxd::cli {

enum class RelayKind { Auto, Boxd, Python };

// "auto" | "boxd" | "python3" -> kind; throws a usage Error otherwise.
RelayKind parse_relay_kind(const std::string& text);

struct RemoteRelay {
  RelayKind kind = RelayKind::Python;
  std::string helper_path;  // kind == Boxd
  // The command string of one Exec that relays to HOST:PORT in the box.
  std::string command(const std::string& host, unsigned port) const;
  std::string name() const;  // "boxd" | "python3"
};

// Probes the box and, if needed, uploads the helper. `log` gets a line
// when an upload happens (it is slow once). Throws boxd::Error.
RemoteRelay prepare_remote_relay(client::ClientApi& client, const std::string& vm, RelayKind wanted,
                                 std::ostream& log);

// One command run to its end in the box with `input` on stdin.
struct CapturedRun {
  int exit_code = 0;
  std::string out;
  std::string err;
};
CapturedRun run_captured(client::ClientApi& client, const std::string& vm,
                         const std::string& command, const std::string& input = "");

}  // namespace boxd::cli
