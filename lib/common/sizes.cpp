#include "common/sizes.hpp"

#include <fmt/format.h>
#include <cctype>
#include <cmath>

namespace boxd {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// floor(frac / scale * 2^shift) without overflow (frac < scale <= 10^9,
// shift <= 40): long division, 10 bits at a time.
std::uint64_t scaled_fraction(std::uint64_t frac, std::uint64_t scale, int shift) {
  std::uint64_t result = 0;
  std::uint64_t rest = frac;
  for (int done = 0; done < shift; done += 10) {
    rest <<= 10;
    result = (result << 10) + rest / scale;
    rest %= scale;
  }
  return result;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t whole = 0;
  bool any_digit = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    whole = whole * 10 + digit;
    any_digit = true;
    ++i;
  }
  // Fraction: up to 9 digits, kept as an exact numerator over 10^n.
  std::uint64_t frac = 0;
  std::uint64_t frac_scale = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    bool frac_digit = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      if (frac_scale < 1000000000ULL) {
        frac = frac * 10 + static_cast<std::uint64_t>(text[i] - '0');
        frac_scale *= 10;
      }
      frac_digit = true;
      ++i;
    }
    if (!frac_digit) {
      return std::nullopt;
    }
  }
  if (!any_digit) {
    return std::nullopt;
  }
  const std::string unit = lower(text.substr(i));
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    shift = 40;
  } else {
    return std::nullopt;
  }
  if (shift == 0 && frac != 0) {
    return std::nullopt;  // fractional bytes
  }
  if (whole > (UINT64_MAX >> shift)) {
    return std::nullopt;
  }
  // Cannot overflow: whole << shift leaves the low `shift` bits free and
  // the fraction is below 2^shift.
  return (whole << shift) + scaled_fraction(frac, frac_scale, shift);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(k_units)) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0 || std::floor(value) == value) {
    return fmt::format("{}{}", static_cast<std::uint64_t>(value), k_units[unit]);
  }
  std::string s = fmt::format("{:.1f}", value);
  if (s.size() > 2 && s.substr(s.size() - 2) == ".0") {
    s.resize(s.size() - 2);
  }
  return s + k_units[unit];
}

std::string box_memory_problem(std::uint64_t bytes) {
  if (bytes != 0 && bytes < k_min_box_memory_bytes) {
    return "invalid memory size " + format_size(bytes) + ": at least " +
           format_size(k_min_box_memory_bytes);
  }
  return {};
}

}  // namespace boxd
