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

// The least memory a box can have (create, fork, templates, resize: one rule
// everywhere): a box boots and runs a shell in it.
inline constexpr std::uint64_t k_min_box_memory_bytes = 64ULL << 20;
inline constexpr std::uint32_t k_max_box_vcpu = 1024;
// "" when `bytes` is a valid box memory size (0 = unset is valid), else why not.
std::string box_memory_problem(std::uint64_t bytes);
}  // namespace boxd
