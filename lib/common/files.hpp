#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"  // write_all, read_all (once declared here)

namespace boxd {
// Writes content to path via a temp file in the same directory, fsync, then
// rename: readers see the old or the new file, never a torn one, even after
// kill -9. The file gets `mode` (e.g. 0600) before any byte is written.
// Sync::None leaves out the fsyncs (of the file and its directory): still
// never torn after kill -9 (the page cache outlives the process), but a
// machine crash may lose it, and on a file system without ext4's
// auto_da_alloc leave it empty; for state that is void after a crash anyway
// (what live processes hold, such as the box network's addresses).
// Sync::Content fsyncs the file but not its directory: after a machine
// crash the path holds the old content or the new, both whole, but may
// still hold the old one.
enum class Sync { Durable, Content, None };
void write_file_atomic(const std::filesystem::path& path, std::string_view content,
                       unsigned mode = 0644, Sync sync = Sync::Durable);

// Starts the disk writes of a file written front to back while it is
// written: sync_file_range(SYNC_FILE_RANGE_WRITE), which queues the writes
// and does not wait, every k_step bytes, and for the rest at finish(). For
// big files renamed over another one at the end (uploads, downloads): ext4
// (auto_da_alloc) starts the writeback of the whole file inside rename()
// when it replaces a file, 0.6 s for 1 GiB here, and a replaced file still
// being written back made the next write over it wait as well
// (tests/bench/FINDINGS.md). The crash guarantee is the same either way
// (the blocks are allocated and ordered before the rename in the journal);
// the dirty memory the file holds stays small. Best effort: a file system
// without writeback (tmpfs) ignores it, and an I/O error shows at the
// write or close that follows.
class StreamingWriteback {
 public:
  static constexpr std::uint64_t k_step = 8ULL << 20;

  explicit StreamingWriteback(int fd) : m_fd(fd) {}
  // `bytes` more were appended to the file.
  void wrote(std::uint64_t bytes);
  // Before the close and rename: starts what is left.
  void finish();

 private:
  void start();
  int m_fd;
  std::uint64_t m_written = 0;
  std::uint64_t m_started = 0;
};

// Several atomic replacements made durable together, for files that are only
// of use as a group (a new box's /etc): add() writes each to its temp sibling
// (mode and owner set before the first byte); commit() starts the writeback
// of all of them, then fsyncs each, renames each into place and fsyncs each
// directory once. Same guarantees as write_file_atomic per file, with fewer
// waits: on ext4 the writeback started together lets one journal commit
// carry every file instead of one commit (or two) per file. Temp files not
// committed are removed when the batch is destroyed. Throws boxd::Error.
class DurableFiles {
 public:
  DurableFiles() = default;
  DurableFiles(const DurableFiles&) = delete;
  DurableFiles& operator=(const DurableFiles&) = delete;
  ~DurableFiles();
  // owner/group: -1 keeps the creator's.
  void add(const std::filesystem::path& path, std::string_view content, unsigned mode,
           int owner = -1, int group = -1);
  // A file already in place (written with Sync::None), made durable with
  // the batch: fsynced with the others, then its directory.
  void keep(const std::filesystem::path& path);
  void commit();
  // Puts the files in place without an fsync each: for files on one file
  // system that the caller then syncs whole (syncfs, an unmount), which
  // costs one journal commit instead of one per file.
  void commit_unsynced();

 private:
  struct Pending {
    std::filesystem::path tmp;  // empty: kept in place (keep())
    std::filesystem::path target;
    UniqueFd fd;
  };
  std::vector<Pending> m_pending;
};

// Removes a file and fsyncs its directory, so that after a machine crash
// the file is gone for good (nothing when it did not exist).
void remove_file_durably(const std::filesystem::path& path);

// Whole file, or nullopt if it does not exist. Throws boxd::Error on other errors.
std::optional<std::string> read_file(const std::filesystem::path& path);
// Creates the directory (and parents) and sets its mode (e.g. 0700).
void ensure_dir(const std::filesystem::path& dir, unsigned mode = 0755);

}  // namespace boxd
