#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boxd {
// Parses "512M", "4G", "1.5G", "10GiB", "2T", "1024" (plain bytes), "64K".
// Binary units (K = 1024). Returns nullopt for anything else (empty, negative,
// unknown unit, overflow).
std::optional<std::uint64_t> parse_size(std::string_view text);
// 4294967296 -> "4GiB", 1536 MiB -> "1.5GiB", 0 -> "0B".
std::string format_size(std::uint64_t bytes);
}  // namespace boxd
