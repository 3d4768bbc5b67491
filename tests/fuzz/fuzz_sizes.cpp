// parse_size (every --size/--memory/--disk flag and the size fields of
// requests) against an independent 128-bit reference of its documented
// grammar, and format_size's output parsing back to about the same size.
#include <cctype>
#include <optional>
#include <string>

#include "common/sizes.hpp"
#include "fuzz_support.hpp"

namespace {

using u128 = unsigned __int128;

// DIGITS [. DIGITS] [UNIT], UNIT one of b k kb kib m ... tib in any case;
// binary units; the fraction counts to 9 digits; no fractional bytes; the
// result floors and must fit 64 bits.
std::optional<std::uint64_t> reference(std::string_view text) {
  std::size_t i = 0;
  u128 whole = 0;
  const auto digit = [&](std::size_t at) {
    return at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) != 0;
  };
  if (!digit(0)) {
    return std::nullopt;
  }
  for (; digit(i); ++i) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > UINT64_MAX) {
      return std::nullopt;
    }
  }
  u128 frac = 0;
  u128 scale = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digit(i)) {
      return std::nullopt;
    }
    for (int n = 0; digit(i); ++i, ++n) {
      if (n < 9) {
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        scale *= 10;
      }
    }
  }
  std::string unit;
  for (; i < text.size(); ++i) {
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  int shift = -1;
  const char* const k_units[][3] = {{"", "b", "b"},
                                    {"k", "kb", "kib"},
                                    {"m", "mb", "mib"},
                                    {"g", "gb", "gib"},
                                    {"t", "tb", "tib"}};
  for (int u = 0; u < 5; ++u) {
    for (const char* name : k_units[u]) {
      if (unit == name) {
        shift = 10 * u;
      }
    }
  }
  if (shift < 0 || (shift == 0 && frac != 0)) {
    return std::nullopt;
  }
  const u128 multiplier = u128{1} << shift;
  const u128 value = whole * multiplier + frac * multiplier / scale;
  if (value > UINT64_MAX) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const std::string_view text = boxd::fuzz::as_text(data, size);
  const auto parsed = boxd::parse_size(text);
  require(parsed == reference(text), "parse_size agrees with the reference grammar");
  if (parsed && *parsed < (std::uint64_t{1} << 60)) {
    // Shown sizes read back (1 decimal: within 5% of a unit).
    const auto again = boxd::parse_size(boxd::format_size(*parsed));
    require(again.has_value(), "format_size output parses");
    const auto diff = *again > *parsed ? *again - *parsed : *parsed - *again;
    require(diff <= *parsed / 20 + 1, "format_size output parses back to about the same size");
  }
  return 0;
}
