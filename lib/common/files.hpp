#pragma once
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
// machine crash may lose it; for state that is void after a crash anyway
// (what live processes hold, such as the box network's addresses).
enum class Sync { Durable, None };
void write_file_atomic(const std::filesystem::path& path, std::string_view content,
                       unsigned mode = 0644, Sync sync = Sync::Durable);

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
  void commit();

 private:
  struct Pending {
    std::filesystem::path tmp;
    std::filesystem::path target;
    UniqueFd fd;
  };
  std::vector<Pending> m_pending;
};

// Whole file, or nullopt if it does not exist. Throws boxd::Error on other errors.
std::optional<std::string> read_file(const std::filesystem::path& path);
// Creates the directory (and parents) and sets its mode (e.g. 0700).
void ensure_dir(const std::filesystem::path& dir, unsigned mode = 0755);

}  // namespace boxd
