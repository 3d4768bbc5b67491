// The process's one log (spdlog underneath; only log.cpp includes it).
//
// An event is a short message plus named fields; it is rendered as one line:
//   text: 2026-11-30T03:04:05.123Z info  box created user=alice box=web ms=812
//   json: {"ts":"2026-11-30T03:04:05.123Z","level":"info","msg":"box created",
//          "user":"alice","box":"web","ms":812}
// The server logs to stderr or a rotating file (`boxd local serve`), the CLI
// to stderr at -v/-vv/-vvv. Nothing logged may hold a secret; as a second
// line of defence every registered secret (add_secret: API keys, tokens) is
// replaced by "[redacted]" in every line, also in gRPC's own messages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boxd::logging {

enum class Level { Trace, Debug, Info, Warn, Error, Off };
enum class Format { Text, Json };

// "trace" "debug" "info" "warn" "error" "off" (also "warning").
std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);
std::optional<Format> parse_format(std::string_view name);

struct Field {
  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, const char* v) : key(std::move(k)), value(v) {}
  Field(std::string k, std::int64_t v)
      : key(std::move(k)), value(std::to_string(v)), number(true) {}
  Field(std::string k, int v) : Field(std::move(k), static_cast<std::int64_t>(v)) {}
  std::string key;
  std::string value;
  bool number = false;
};
using Fields = std::vector<Field>;

// What comes after the timestamp and level: `msg k=v k="v w"` (text) or
// `"msg":"...","k":"v"` (json, the inside of the object). Pure (tests).
std::string render(Format format, std::string_view message, const Fields& fields);

// How lines look on the sink.
enum class Style {
  Server,  // full UTC timestamp, level, event (text or json)
  Cli,     // "HH:MM:SS.mmm debug: event" (the CLI's -v)
};

struct FileSink {
  std::filesystem::path path;  // e.g. <state>/server.log
  std::uint64_t max_bytes = 10ULL << 20;
  int max_files = 5;  // rotated files kept: server.1.log ... server.N.log
};

// Replace the process's log. Until one is called nothing is logged.
void to_stream(std::ostream& out, Level level, Format format, Style style);
void to_file(const FileSink& sink, Level level, Format format);
void off();

bool enabled(Level level);
void write(Level level, std::string_view message, const Fields& fields = {});
inline void trace(std::string_view m, const Fields& f = {}) {
  write(Level::Trace, m, f);
}
inline void debug(std::string_view m, const Fields& f = {}) {
  write(Level::Debug, m, f);
}
inline void info(std::string_view m, const Fields& f = {}) {
  write(Level::Info, m, f);
}
inline void warn(std::string_view m, const Fields& f = {}) {
  write(Level::Warn, m, f);
}
inline void error(std::string_view m, const Fields& f = {}) {
  write(Level::Error, m, f);
}
void flush();

// Never shown: every later line has each registered string (at least 8
// characters) replaced by "[redacted]".
void add_secret(std::string_view secret);
// `text` with every registered secret, every "Bearer X" and every JWT-shaped
// word redacted (what gRPC's own messages go through).
std::string scrub(std::string_view text);

// gRPC's own log (gpr_log) goes to this log: its errors as errors, the rest
// at trace. trace_all also switches on gRPC's tracers (the CLI's -vvv).
void route_grpc_log(bool trace_all);

}  // namespace boxd::logging
