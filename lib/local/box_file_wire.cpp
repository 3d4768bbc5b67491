// The helper's frame payloads: see box_file_wire.hpp.
#include "local/box_file_wire.hpp"

namespace boxd::local::box_file {

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

void put_u64(std::string& out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value >> 32));
  put_u32(out, static_cast<std::uint32_t>(value & 0xFFFFFFFFU));
}

std::optional<std::uint32_t> get_u32(std::string_view in, std::size_t offset) {
  if (offset > in.size() || in.size() - offset < 4) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  }
  return value;
}

std::optional<std::uint64_t> get_u64(std::string_view in, std::size_t offset) {
  if (offset > in.size() || in.size() - offset < 8) {
    return std::nullopt;
  }
  return (static_cast<std::uint64_t>(*get_u32(in, offset)) << 32) | *get_u32(in, offset + 4);
}

std::string encode_entry(const Entry& entry) {
  std::string payload;
  payload.reserve(k_entry_fixed_bytes + entry.name.size());
  put_u32(payload, entry.mode);
  put_u64(payload, entry.size);
  put_u64(payload, static_cast<std::uint64_t>(entry.mtime));
  payload += entry.name;
  return payload;
}

std::optional<Entry> parse_entry(std::string_view payload) {
  if (payload.size() <= k_entry_fixed_bytes || payload.size() > k_max_entry_payload) {
    return std::nullopt;
  }
  Entry entry;
  entry.name = std::string(payload.substr(k_entry_fixed_bytes));
  if (entry.name == "." || entry.name == ".." ||
      entry.name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return std::nullopt;
  }
  entry.mode = *get_u32(payload, 0);
  entry.size = *get_u64(payload, 4);
  entry.mtime = static_cast<std::int64_t>(*get_u64(payload, 12));
  return entry;
}

std::string encode_failure(Reason reason, int error) {
  std::string payload(1, static_cast<char>(reason));
  put_u32(payload, static_cast<std::uint32_t>(error));
  return payload;
}

std::optional<Failure> parse_failure(std::string_view payload) {
  if (payload.size() != 5) {
    return std::nullopt;
  }
  const auto reason = static_cast<std::uint8_t>(payload[0]);
  if (reason < static_cast<std::uint8_t>(Reason::OpenParent) ||
      reason > static_cast<std::uint8_t>(Reason::Count)) {
    return std::nullopt;
  }
  return Failure{static_cast<Reason>(reason), static_cast<int>(*get_u32(payload, 1) & 0xFFFF)};
}

}  // namespace boxd::local::box_file
