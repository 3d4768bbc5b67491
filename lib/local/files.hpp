// The domain layer of boxd local for a box's files and console log: upload,
// download, list and the log stream. No gRPC type here: data comes and goes
// through chunk callbacks, and the adapter (service_files.cpp) keeps only
// the stream plumbing.
//
// Where files live. The server never opens a box's file itself: each call
// starts the file helper inside the box (box_file.hpp; namespace runtime: in
// the box's namespaces as the box's user boxd, uid 1000, no capabilities), so
// it reads and writes exactly what that user could, and symlinks made in the
// box resolve in the box. Before that, the path is made absolute in the box
// (relative = relative to /home/boxd, "~" = /home/boxd) and normalised
// lexically (box_path.hpp); a ".." that climbs above "/" is refused as
// outside the box. Messages name that box path, never a host path, and are
// built here from the helper's (reason, errno), never from its text.
//
// Uploads: the helper writes a temp file beside the target and renames it
// over the target only when exactly total_size bytes arrived (a short or long
// stream or a cancelled call aborts it: the temp file is removed), so the
// target is either the old file or the whole new one; a new file is 0644, a
// replaced one keeps its mode. The parent directory must exist (NOT_FOUND).
// Devices, FIFOs and sockets are refused both ways. One 1 MiB message is in
// memory at a time; gRPC flow control and the helper's pipes bound the rest.
// Downloads give total_size first and then at most total_size bytes.
//
// The console log is <box dir>/console.log (every boot's console output is
// appended there by the runtime), read from the start. With follow it polls
// for new bytes every 200 ms and ends when the box is gone, or when it is
// stopped and no lifecycle operation holds its lock (so a reboot, which
// stops and boots under the lock, is followed through); a cancelled call
// (client Ctrl-C, server shutdown) ends it at the next poll. The console log
// is the server's own file, never one of the box's.
//
// Faults: another user's box is NOT_FOUND ("VM 'NAME' not found"); a box
// that is not running is FAILED_PRECONDITION ("VM 'NAME' is STATUS", the
// log stream excepted: it reads a stopped box's log too); a cancelled call
// is CANCELLED.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "local/box_file.hpp"
#include "local/boxes.hpp"
#include "local/store.hpp"

namespace boxd::local {

// Which file: the caller's box (name or id) and the path as given.
struct FileRef {
  std::string vm;
  std::string path;
};

// Whether the call was cancelled (the client went away); polled while the
// helper is waited for.
using CancelledFn = std::function<bool()>;
// One chunk of an upload, in pieces (views into the received message).
using ChunkPieces = std::vector<std::string_view>;
// The next chunk of an upload into `data`, valid until the next call; false
// at the end of the data.
using NextChunkFn = std::function<bool(ChunkPieces& data)>;
// Hands on one chunk of a download or the log; false when the client went away.
using EmitFn = std::function<bool(std::string& data)>;
// One chunk of a download and the file's size.
using EmitSizedFn = std::function<bool(std::string& data, std::uint64_t total_size)>;

// One entry of a directory listing.
struct DirEntryInfo {
  std::string name;
  bool is_dir = false;
  std::uint64_t size_bytes = 0;
  std::string permissions;  // "drwxr-xr-x"
  std::int64_t modified_at = 0;
};

struct DirListing {
  std::vector<DirEntryInfo> entries;  // sorted by name
  bool truncated = false;             // more than box_file::k_list_limit entries
};

class Files {
 public:
  Files(Store& store, Boxes& boxes);

  // Writes `total_size` bytes from next_chunk() to the file; returns the
  // bytes written. Nothing is written unless exactly total_size arrived
  // (INVALID_ARGUMENT) and the call was not cancelled.
  std::uint64_t upload(const std::string& user, const FileRef& file, std::uint64_t total_size,
                       const NextChunkFn& next_chunk, const CancelledFn& cancelled);
  // The whole file (at most 8 MiB, FAILED_PRECONDITION past it).
  std::string download(const std::string& user, const FileRef& file, const CancelledFn& cancelled);
  // The file in chunks: emit(data, size) per chunk, at least once (with no
  // data for an empty file). CANCELLED when emit returns false.
  void download_stream(const std::string& user, const FileRef& file, const EmitSizedFn& emit,
                       const CancelledFn& cancelled);
  // A directory (empty path = the home directory).
  DirListing list(const std::string& user, const FileRef& dir, const CancelledFn& cancelled);
  // The box's console log to emit(); with `follow` until the box stops,
  // is destroyed, emit() returns false or the call is cancelled.
  void stream_logs(const std::string& user, const std::string& vm, bool follow, const EmitFn& emit,
                   const CancelledFn& cancelled);

 private:
  // Starts the file helper for `op` on the file in the caller's running
  // box; file.path comes back absolute and normalised in the box, as
  // messages show it, and `box` is the box.
  std::unique_ptr<BoxFileChannel> start_helper(const std::string& user, FileRef& file,
                                               const std::string& op, BoxRecord& box,
                                               const CancelledFn& cancelled);

  Store& m_store;
  Boxes& m_boxes;
};

// "drwxr-xr-x" and the like for a st_mode (ls -l's first column).
std::string permissions_string(unsigned mode);

}  // namespace boxd::local
