// Shared by the fuzz targets: a property check that stops the run with a
// message (libFuzzer then saves the input as a crash), and the split of one
// input into several text fields.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace boxd::fuzz {

// Aborts (a crash for libFuzzer, with the input saved) when a property fails.
inline void require(bool condition, const char* property) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    std::abort();
  }
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits input at each line "%%" ("a\n%%\nb" -> {"a", "b"}), into exactly
// `count` fields (missing ones are empty, extra separators stay in the last).
inline std::vector<std::string> fields(std::string_view input, std::size_t count) {
  static constexpr std::string_view k_separator = "\n%%\n";
  std::vector<std::string> out;
  while (out.size() + 1 < count) {
    const auto at = input.find(k_separator);
    if (at == std::string_view::npos) {
      break;
    }
    out.emplace_back(input.substr(0, at));
    input.remove_prefix(at + k_separator.size());
  }
  out.emplace_back(input);
  out.resize(count);
  return out;
}

}  // namespace boxd::fuzz
