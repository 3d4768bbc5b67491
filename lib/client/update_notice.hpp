// The update notice: a server may advertise the newest CLI version in the
// `x-boxd-cli-latest` response header (docs/wire-contract.md, section 9). When
// it is newer than this binary, the CLI prints one line on stderr, at most
// once a day, and never where it could get in the way (see notice_allowed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boxd::client {

// A version as the Python SDK reads one: the numeric prefix ("0.1.2",
// missing components count as 0) and an optional ".devN" pre-release
// (anything else after the numbers is ignored). "v0.2" is accepted.
struct Version {
  std::vector<std::uint64_t> numbers;
  std::optional<std::uint64_t> dev;  // ".devN"
};
std::optional<Version> parse_version(std::string_view text);

// <0, 0, >0. A release sorts after its own .devN pre-releases
// (0.1.2.dev13 < 0.1.2 < 0.1.3.dev1); devN compare by N.
int compare_versions(const Version& a, const Version& b);

// True when `candidate` parses and is strictly newer than `current`.
bool is_newer_version(std::string_view candidate, std::string_view current);

// Where a notice would not help or would hurt: not on a terminal, under
// --json, in CI (CI set), or when BOXD_NO_UPDATE_NOTIFIER is set.
struct NoticeSituation {
  bool stderr_tty = false;
  bool json = false;
  bool ci = false;        // CI set and non-empty
  bool disabled = false;  // BOXD_NO_UPDATE_NOTIFIER set and non-empty
};
bool notice_allowed(const NoticeSituation& situation);

// The state that keeps it to once a day: cache_dir()/update-check.json,
// {"last_notice_at": <unix seconds>, "latest": "<version>"}, written
// atomically. A missing or broken file means "never noticed".
std::filesystem::path default_notice_state_file();

inline constexpr std::int64_t k_notice_interval_seconds = 24 * 60 * 60;

// Decides and records: when `advertised` is newer than `current` and no
// notice was printed in the last day (per `state_file`), records `now` and
// returns the line to print (without newline); otherwise nullopt. Never
// throws: a state file that cannot be written means no notice (better
// silent than nagging on every call).
std::optional<std::string> take_update_notice(std::string_view advertised, std::string_view current,
                                              std::int64_t now,
                                              const std::filesystem::path& state_file);

}  // namespace boxd::client
