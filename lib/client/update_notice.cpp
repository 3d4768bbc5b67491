// Update notice: version comparison and the once-a-day rule.
//
// Versions compare like the Python SDK's check of its own header
// (x-boxd-py-sdk-latest): the numeric prefix component by component, a
// missing component being 0 (so 0.2 == 0.2.0), then a release sorts after
// any .devN of the same numbers, and two .devN by N. Text that does not
// start with a number ("", "latest", garbage from a proxy) is never newer:
// a wrong notice is worse than none.
//
// Once a day: the time of the last notice lives in the cache directory.
// The file is written (atomically) before the line is returned, so two
// commands racing may both print once, never more; if it cannot be written
// (read-only home) no notice is printed at all, since otherwise every
// command would print one.
#include "client/update_notice.hpp"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/paths.hpp"

namespace boxd::client {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads digits at `pos`; nullopt when there are none or they overflow.
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& pos) {
  const std::size_t start = pos;
  std::uint64_t value = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (value > (UINT64_MAX - 9) / 10) {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(text[pos] - '0');
    ++pos;
  }
  if (pos == start) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<Version> parse_version(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) {
    text.remove_prefix(1);
  }
  Version version;
  std::size_t pos = 0;
  auto first = read_number(text, pos);
  if (!first) {
    return std::nullopt;
  }
  version.numbers.push_back(*first);
  while (pos + 1 < text.size() && text[pos] == '.' && is_digit(text[pos + 1])) {
    ++pos;
    auto next = read_number(text, pos);
    if (!next) {
      return std::nullopt;
    }
    version.numbers.push_back(*next);
  }
  const std::string_view rest = text.substr(pos);
  for (std::string_view marker : {std::string_view(".dev"), std::string_view("dev")}) {
    if (rest.substr(0, marker.size()) == marker) {
      std::size_t dev_pos = marker.size();
      auto dev = read_number(rest, dev_pos);
      version.dev = dev.value_or(0);  // PEP 440: "1.0.dev" is dev0
      break;
    }
  }
  return version;
}

int compare_versions(const Version& a, const Version& b) {
  const std::size_t n = std::max(a.numbers.size(), b.numbers.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t x = i < a.numbers.size() ? a.numbers[i] : 0;
    const std::uint64_t y = i < b.numbers.size() ? b.numbers[i] : 0;
    if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  if (a.dev.has_value() != b.dev.has_value()) {
    return a.dev.has_value() ? -1 : 1;  // the release is the newer one
  }
  if (a.dev && *a.dev != *b.dev) {
    return *a.dev < *b.dev ? -1 : 1;
  }
  return 0;
}

bool is_newer_version(std::string_view candidate, std::string_view current) {
  const auto a = parse_version(candidate);
  const auto b = parse_version(current);
  return a && b && compare_versions(*a, *b) > 0;
}

bool notice_allowed(const NoticeSituation& situation) {
  return situation.stderr_tty && !situation.json && !situation.ci && !situation.disabled;
}

std::filesystem::path default_notice_state_file() {
  return cache_dir() / "update-check.json";
}

std::optional<std::string> take_update_notice(std::string_view advertised, std::string_view current,
                                              std::int64_t now,
                                              const std::filesystem::path& state_file) {
  if (advertised.size() > 64 || !is_newer_version(advertised, current)) {
    return std::nullopt;
  }
  // It goes to a terminal: nothing but version characters.
  for (char c : advertised) {
    const bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                    c == '-' || c == '+' || c == '_';
    if (!ok) {
      return std::nullopt;
    }
  }
  try {
    if (auto text = read_file(state_file)) {
      const auto doc = nlohmann::json::parse(*text, nullptr, false);
      if (doc.is_object()) {
        auto it = doc.find("last_notice_at");
        if (it != doc.end() && it->is_number_integer()) {
          const std::int64_t last = it->get<std::int64_t>();
          // A last time in the future (clock set back) also waits a day.
          if (now - last < k_notice_interval_seconds && last - now < k_notice_interval_seconds) {
            return std::nullopt;
          }
        }
      }
    }
    nlohmann::json state = {{"last_notice_at", now}, {"latest", std::string(advertised)}};
    ensure_dir(state_file.parent_path(), 0700);
    write_file_atomic(state_file, state.dump() + "\n", 0600);
  } catch (...) {
    return std::nullopt;
  }
  return "notice: boxd " + std::string(advertised) + " is available (this is " +
         std::string(current) + "); set BOXD_NO_UPDATE_NOTIFIER=1 to silence this";
}

}  // namespace boxd::client
