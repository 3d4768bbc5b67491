// The box file helper: every file operation of the server (box cp both ways,
// ListDir, the mount points of disks) runs in a short-lived process started
// inside the box, never as host root on a host path. See box_file.cpp (the
// helper) and box_file_channel.cpp (the server's side).
//
// The helper is boxd itself, `boxd local __box-file OP ROOT PATH`, run by
// Runtime::run_self: namespace runtime: in the box's namespaces as the box's
// user (uid/gid 1000, no capabilities), ROOT = "/" (the box's own root);
// process runtime: as the server's user, ROOT = the box's home tree.
// It resolves PATH beneath ROOT itself (openat2 RESOLVE_IN_ROOT), so a
// symlink made in the box resolves in the box and can never lead to a host
// file, and it can read or write exactly what the box's user could.
//
// Wire: frames both ways on the helper's stdin/stdout, each a 1-byte type, a
// 4-byte big-endian payload length and the payload (at most
// k_max_frame_payload bytes). Integers in payloads are big-endian.
//   upload:   helper -> 'R' (temp file open) | 'E';
//             server -> 'D' data ... then 'C' u64 total (commit);
//             helper -> 'O' u64 bytes written (renamed) | 'E'.
//             EOF on stdin before 'C' = abort: the temp file is removed.
//   download: helper -> 'S' u64 size, 'D' data ... (exactly size bytes,
//             fewer if the file shrank), 'O' | 'E'.
//   list:     helper -> 'N' entry ... (at most k_list_limit), then 'O' u8
//             truncated | 'E'. Entry: u32 mode, u64 size, i64 mtime, name.
//   mkdir:    creates PATH and its missing parents (mode 0755) -> 'O' | 'E'.
// 'E' payload: u8 reason, u32 errno. The server builds its message from
// the reason, the errno and the path it asked for: nothing the helper says
// reaches a client as text, and every frame is checked (type expected in
// that state, bounded length, byte counts that add up).
//
// Uploads land atomically: a temp file `.boxd-upload-<pid>-<hex>` in the
// target's directory (pid = the helper's, in the box), renamed over the
// target at commit, removed on any failure or abort. A helper killed
// outright (box stopped mid-upload) cannot remove its file: every upload
// first removes the `.boxd-upload-*` files in its directory whose helper
// is gone.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "local/box_file_wire.hpp"
#include "local/runtime.hpp"

namespace boxd::local {

namespace box_file {
constexpr const char* k_temp_prefix = ".boxd-upload-";
}  // namespace box_file

// The server's end of one helper: frames over its stdin/stdout. Every wait
// polls in short slices and gives up when `cancelled()` says so or the
// helper is silent for the idle timeout. Throws FaultError (fault.hpp).
class BoxFileChannel {
 public:
  struct Frame {
    char type = 0;
    std::string payload;
  };

  BoxFileChannel(std::unique_ptr<ExecProcess> process, std::function<bool()> cancelled);
  ~BoxFileChannel();
  BoxFileChannel(const BoxFileChannel&) = delete;
  BoxFileChannel& operator=(const BoxFileChannel&) = delete;

  // False when the helper is gone (its stdin closed): read its 'E' then.
  bool send(char type, std::string_view payload);
  // The same, for a payload in pieces (written with one writev where the
  // pipe takes it).
  bool send(char type, std::span<const std::string_view> payload);
  // The next frame; throws on EOF, a malformed frame, a payload longer than
  // max_payload, cancellation or the idle timeout.
  Frame receive(std::size_t max_payload = box_file::k_max_frame_payload);
  void close_input();
  // After the helper's final answer: its exit (it may still remove the file
  // an upload replaced) is waited for on a thread of its own, not before
  // the caller answers its client. The channel is unusable afterwards.
  void release();

 private:
  bool wait_for(int fd, short events);
  void read_exact(char* data, std::size_t size);

  std::unique_ptr<ExecProcess> m_process;
  std::function<bool()> m_cancelled;
  // send()'s frame, kept for their capacity.
  std::vector<std::string_view> m_parts;
  std::vector<iovec> m_iov;
};

// Waits until every helper handed over by BoxFileChannel::release() has
// been waited for (tests; the server before it exits); false past `limit`.
bool wait_for_released_helpers(std::chrono::milliseconds limit);

// Makes the directory `path` (absolute) inside the running box with the
// file helper, as the box's user first (its home, /tmp), then as the box's
// root without capabilities (root-owned directories such as / or /mnt):
// never more than the box's own root could do. The mount point of a disk
// (NamespaceRuntime::mount_disk). PERMISSION_DENIED or FAILED_PRECONDITION
// when it cannot.
void make_dir_in_box(Runtime& runtime, const BoxSpec& box, const BoxHandle& handle,
                     const std::string& path);

// The hidden entry point: `boxd local __box-file OP ROOT PATH`. Returns an
// exit code.
int box_file_main(int argc, char** argv);

}  // namespace boxd::local
