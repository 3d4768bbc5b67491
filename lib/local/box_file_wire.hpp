// The byte format of the box file helper's frames (see box_file.hpp for the
// protocol): integers, directory entries and error replies, encoded by the
// helper in the box and decoded by the server. The server treats every byte
// the helper sends as untrusted (a process of the box's user can talk in its
// place), so every decoder here checks lengths and contents and never reads
// past its input; tests/fuzz/fuzz_box_file_wire.cpp holds them to that.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace boxd::local::box_file {

constexpr std::size_t k_chunk_bytes = 1024 * 1024;
constexpr std::size_t k_max_frame_payload = k_chunk_bytes;
constexpr int k_list_limit = 10000;
constexpr std::size_t k_max_name_bytes = 255;
// An entry's fixed part: u32 mode, u64 size, i64 mtime; the name follows.
constexpr std::size_t k_entry_fixed_bytes = 4 + 8 + 8;
constexpr std::size_t k_max_entry_payload = k_entry_fixed_bytes + k_max_name_bytes;

enum class Reason : std::uint8_t {
  OpenParent = 1,  // the target's directory
  Open = 2,        // the path itself
  IsDirectory = 3,
  NotRegular = 4,  // a device, FIFO, socket...
  Write = 5,
  Commit = 6,  // rename over the target
  Read = 7,
  Protocol = 8,  // the server sent something unexpected
  Count = 9,     // the byte count of the commit does not match
};

// Big-endian integers. get_* return nullopt when `in` is too short.
void put_u32(std::string& out, std::uint32_t value);
void put_u64(std::string& out, std::uint64_t value);
std::optional<std::uint32_t> get_u32(std::string_view in, std::size_t offset);
std::optional<std::uint64_t> get_u64(std::string_view in, std::size_t offset);

// One 'N' frame of a listing.
struct Entry {
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::string name;
};
std::string encode_entry(const Entry& entry);
// nullopt unless the payload is exactly one entry whose name is one path
// component (1..k_max_name_bytes bytes, no '/', no NUL, not "." or "..").
std::optional<Entry> parse_entry(std::string_view payload);

// An 'E' frame: why the helper failed, and errno (0..65535).
struct Failure {
  Reason reason = Reason::Protocol;
  int error = 0;
};
std::string encode_failure(Reason reason, int error);
// nullopt unless the payload is exactly u8 reason + u32 errno with a known
// reason; the errno is masked to 16 bits.
std::optional<Failure> parse_failure(std::string_view payload);

}  // namespace boxd::local::box_file
