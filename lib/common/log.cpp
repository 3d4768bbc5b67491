// spdlog in header-only mode (Debian ships no libspdlog.a, and the static
// build must not need one); this is the only file that includes it.
#define SPDLOG_LEVEL_NAMES \
  { "trace", "debug", "info", "warn", "error", "fatal", "off" }

#include "common/log.hpp"

#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "common/error.hpp"

namespace boxd::logging {

namespace {

std::shared_mutex g_secrets_mutex;
std::vector<std::string> g_secrets;

spdlog::level::level_enum spd(Level level) {
  switch (level) {
    case Level::Trace:
      return spdlog::level::trace;
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
    case Level::Off:
      break;
  }
  return spdlog::level::off;
}

std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) {
    return true;
  }
  for (const char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

// Control characters as \n, \t, \xNN: one event is always one line.
void append_escaped(std::string& out, std::string_view text, bool quote_marks) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else if (quote_marks && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
}

std::string pattern(Format format, Style style) {
  if (style == Style::Cli) {
    return "%H:%M:%S.%e %l: %v";
  }
  if (format == Format::Json) {
    return R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})";
  }
  return "%Y-%m-%dT%H:%M:%S.%eZ %-5l %v";
}

struct Current {
  std::mutex mutex;
  std::shared_ptr<spdlog::logger> logger;
  Format format = Format::Text;
};

Current& current() {
  static Current c;
  return c;
}

void install(spdlog::sink_ptr sink, Level level, Format format, Style style) {
  auto logger = std::make_shared<spdlog::logger>("boxd", std::move(sink));
  logger->set_pattern(pattern(format, style), style == Style::Cli ? spdlog::pattern_time_type::local
                                                                  : spdlog::pattern_time_type::utc);
  logger->set_level(spd(level));
  logger->flush_on(spdlog::level::trace);  // every line: `boxd local logs -f`, kill -9
  auto& c = current();
  std::lock_guard lock(c.mutex);
  c.logger = std::move(logger);
  c.format = style == Style::Cli ? Format::Text : format;
}

std::shared_ptr<spdlog::logger> logger_and_format(Format& format) {
  auto& c = current();
  std::lock_guard lock(c.mutex);
  format = c.format;
  return c.logger;
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '=' || c == '+' || c == '/';
}

// Replaces the word after each `prefix` (to the next non-token character)
// when `redact_word(word)` says so.
template <class Pred>
std::string redact_after(std::string text, std::string_view prefix, bool keep_prefix, Pred pred) {
  std::size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    const std::size_t start = keep_prefix ? at + prefix.size() : at;
    std::size_t end = at + prefix.size();
    while (end < text.size() && is_token_char(text[end])) {
      ++end;
    }
    if (end > start && pred(std::string_view(text).substr(start, end - start))) {
      text.replace(start, end - start, "[redacted]");
      at = start + 10;
    } else {
      at = end;
    }
  }
  return text;
}

bool is_hex_byte_at(const std::string& text, std::size_t at) {
  return at + 2 <= text.size() && std::isxdigit(static_cast<unsigned char>(text[at])) != 0 &&
         std::isxdigit(static_cast<unsigned char>(text[at + 1])) != 0 &&
         (at + 2 == text.size() || text[at + 2] == ' ' || text[at + 2] == '\'');
}

// gRPC's tracers dump metadata values as hex bytes ("42 65 61 ..."): any run
// of 8 or more goes, whatever it spells.
std::string redact_hex_dumps(std::string text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const bool word_start = i == 0 || text[i - 1] == ' ' || text[i - 1] == '=';
    std::size_t end = i;
    int bytes = 0;
    while (word_start && is_hex_byte_at(text, end)) {
      ++bytes;
      end += 2;
      if (end < text.size() && text[end] == ' ' && is_hex_byte_at(text, end + 1)) {
        ++end;
      } else {
        break;
      }
    }
    if (bytes >= 8) {
      out += "[redacted]";
      i = end;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string redact_secrets(std::string text) {
  std::shared_lock lock(g_secrets_mutex);
  for (const auto& secret : g_secrets) {
    std::size_t at = 0;
    while ((at = text.find(secret, at)) != std::string::npos) {
      text.replace(at, secret.size(), "[redacted]");
      at += 10;
    }
  }
  return text;
}

extern "C" void on_grpc_log(gpr_log_func_args* args) {
  const Level level = args->severity == GPR_LOG_SEVERITY_ERROR ? Level::Error : Level::Trace;
  if (!enabled(level)) {
    return;
  }
  std::string where = args->file != nullptr ? args->file : "";
  if (const auto slash = where.rfind('/'); slash != std::string::npos) {
    where = where.substr(slash + 1);
  }
  write(level, "grpc: " + scrub(args->message != nullptr ? args->message : ""),
        {{"src", where + ":" + std::to_string(args->line)}});
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "trace") {
    return Level::Trace;
  }
  if (name == "debug") {
    return Level::Debug;
  }
  if (name == "info") {
    return Level::Info;
  }
  if (name == "warn" || name == "warning") {
    return Level::Warn;
  }
  if (name == "error") {
    return Level::Error;
  }
  if (name == "off") {
    return Level::Off;
  }
  return std::nullopt;
}

std::string_view level_name(Level level) {
  static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "off"};
  return names[static_cast<int>(level)];
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") {
    return Format::Text;
  }
  if (name == "json") {
    return Format::Json;
  }
  return std::nullopt;
}

std::string render(Format format, std::string_view message, const Fields& fields) {
  std::string out;
  if (format == Format::Json) {
    out = "\"msg\":" + json_string(message);
    for (const auto& f : fields) {
      out += "," + json_string(f.key) + ":" + (f.number ? f.value : json_string(f.value));
    }
    return out;
  }
  append_escaped(out, message, false);
  for (const auto& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    if (needs_quotes(f.value)) {
      out += '"';
      append_escaped(out, f.value, true);
      out += '"';
    } else {
      out += f.value;
    }
  }
  return out;
}

void to_stream(std::ostream& out, Level level, Format format, Style style) {
  install(std::make_shared<spdlog::sinks::ostream_sink_mt>(out, true), level, format, style);
}

void to_file(const FileSink& sink, Level level, Format format) {
  spdlog::sink_ptr file;
  try {
    file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        sink.path.string(), static_cast<std::size_t>(sink.max_bytes),
        static_cast<std::size_t>(sink.max_files));
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(ErrorClass::InvalidArgument, "cannot open the log file: " + std::string(e.what()));
  }
  install(std::move(file), level, format, Style::Server);
}

void off() {
  auto& c = current();
  std::lock_guard lock(c.mutex);
  c.logger.reset();
}

bool enabled(Level level) {
  Format format{};
  const auto logger = logger_and_format(format);
  return logger && level != Level::Off && logger->should_log(spd(level));
}

void write(Level level, std::string_view message, const Fields& fields) {
  Format format{};
  const auto logger = logger_and_format(format);
  if (!logger || level == Level::Off || !logger->should_log(spd(level))) {
    return;
  }
  logger->log(spd(level), "{}", redact_secrets(render(format, message, fields)));
}

void flush() {
  Format format{};
  if (const auto logger = logger_and_format(format)) {
    logger->flush();
  }
}

void add_secret(std::string_view secret) {
  if (secret.size() < 8) {
    return;  // too short to redact without mangling ordinary words
  }
  std::unique_lock lock(g_secrets_mutex);
  for (const auto& known : g_secrets) {
    if (known == secret) {
      return;
    }
  }
  g_secrets.emplace_back(secret);
}

std::string scrub(std::string_view text) {
  std::string out = redact_hex_dumps(redact_secrets(std::string(text)));
  out = redact_after(std::move(out), "Bearer ", true, [](std::string_view) { return true; });
  out = redact_after(std::move(out), "eyJ", false, [](std::string_view word) {
    return std::count(word.begin(), word.end(), '.') >= 2;
  });
  return out;
}

void route_grpc_log(bool trace_all) {
  gpr_set_log_function(on_grpc_log);
  if (trace_all) {
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
    // The user's own GRPC_TRACE wins; else what a connection problem needs.
    const char* wanted = std::getenv("GRPC_TRACE");
    const std::string tracers = wanted != nullptr && wanted[0] != '\0'
                                    ? wanted
                                    : "api,call_error,connectivity_state,http,subchannel,"
                                      "client_channel_call,handshaker";
    std::string_view rest = tracers;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      grpc_tracer_set_enabled(std::string(rest.substr(0, comma)).c_str(), 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  } else {
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
  }
}

}  // namespace boxd::logging
