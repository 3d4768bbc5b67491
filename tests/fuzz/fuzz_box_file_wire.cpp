// The payloads the server decodes from the box file helper ('N' listing
// entries, 'E' failures, big-endian integers). The helper runs as the box's
// user, so a process in the box can answer in its place: decoding never
// reads past the payload, accepts only one-component names, and what it
// accepts encodes back to the same bytes.
#include <cstring>

#include "fuzz_support.hpp"
#include "local/box_file_wire.hpp"

namespace wire = boxd::local::box_file;

namespace {

void check_entry(std::string_view payload) {
  using boxd::fuzz::require;
  const auto entry = wire::parse_entry(payload);
  if (!entry) {
    return;
  }
  require(!entry->name.empty() && entry->name.size() <= wire::k_max_name_bytes,
          "an entry's name has 1..255 bytes");
  require(entry->name != "." && entry->name != "..", "an entry is never . or ..");
  require(entry->name.find('/') == std::string::npos && entry->name.find('\0') == std::string::npos,
          "an entry's name is one path component");
  require(wire::encode_entry(*entry) == payload, "an accepted entry encodes back to its bytes");
}

void check_failure(std::string_view payload) {
  using boxd::fuzz::require;
  const auto failure = wire::parse_failure(payload);
  if (!failure) {
    return;
  }
  const auto reason = static_cast<int>(failure->reason);
  require(reason >= 1 && reason <= 9, "a failure's reason is a known one");
  require(failure->error >= 0 && failure->error <= 0xFFFF, "errno is masked to 16 bits");
  const auto again = wire::parse_failure(wire::encode_failure(failure->reason, failure->error));
  require(again && again->reason == failure->reason && again->error == failure->error,
          "a failure survives a round trip");
}

void check_integers(std::string_view payload) {
  using boxd::fuzz::require;
  for (std::size_t offset = 0; offset <= payload.size() + 1; ++offset) {
    const auto u32 = wire::get_u32(payload, offset);
    const auto u64 = wire::get_u64(payload, offset);
    require(u32.has_value() == (offset + 4 <= payload.size()), "get_u32 is bounded");
    require(u64.has_value() == (offset + 8 <= payload.size()), "get_u64 is bounded");
    if (u64) {
      std::string out;
      wire::put_u64(out, *u64);
      require(out == payload.substr(offset, 8), "put_u64 inverts get_u64");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto payload = boxd::fuzz::as_text(data, size);
  check_entry(payload);
  check_failure(payload);
  if (payload.size() <= 64) {
    check_integers(payload);
  }
  return 0;
}
