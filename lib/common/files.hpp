#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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
// Whole file, or nullopt if it does not exist. Throws boxd::Error on other errors.
std::optional<std::string> read_file(const std::filesystem::path& path);
// Creates the directory (and parents) and sets its mode (e.g. 0700).
void ensure_dir(const std::filesystem::path& dir, unsigned mode = 0755);

}  // namespace boxd
