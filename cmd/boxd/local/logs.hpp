// `boxd local logs`: the pure parts (tests/unit/cli_local_logs_test.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.hpp"

namespace boxd::cli {

// "90s", "10m", "1h30m", "2d", "45" (seconds) -> seconds; nullopt if malformed.
std::optional<std::int64_t> parse_duration_secs(std::string_view text);

// The time (unix ms) and level of one server log line, text or JSON;
// nullopt for a line that is neither.
struct LogLineInfo {
  std::int64_t unix_ms = 0;
  logging::Level level = logging::Level::Info;
};
std::optional<LogLineInfo> parse_log_line(std::string_view line);

// The log's files oldest first: FILE.N.EXT ... FILE.1.EXT, then FILE.EXT
// (only those that exist).
std::vector<std::filesystem::path> log_files_oldest_first(const std::filesystem::path& log);

}  // namespace boxd::cli
