// `boxd local logs [-f] [--since D] [--level L]`: the background server's log
// (<state_dir>/server.log and the files rotated from it, oldest first),
// filtered by time and level; -f keeps following it across rotations.
#include "boxd/local/logs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "boxd/command.hpp"
#include "boxd/local/background.hpp"
#include "boxd/local/local.hpp"
#include "common/error.hpp"

namespace boxd::cli {

std::optional<std::int64_t> parse_duration_secs(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::int64_t number = -1;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      number = (number < 0 ? 0 : number) * 10 + (c - '0');
      if (number > 100'000'000) {
        return std::nullopt;
      }
      continue;
    }
    static const std::map<char, std::int64_t> units{{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    auto unit = units.find(c);
    if (unit == units.end() || number < 0) {
      return std::nullopt;
    }
    total += number * unit->second;
    number = -1;
  }
  return total + (number > 0 ? number : 0);
}

namespace {

// "2026-11-30T03:04:05.123Z" -> unix ms.
std::optional<std::int64_t> parse_timestamp(std::string_view ts) {
  std::tm tm{};
  int ms = 0;
  const std::string text(ts);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

}  // namespace

std::optional<LogLineInfo> parse_log_line(std::string_view line) {
  std::string ts;
  std::string level;
  if (!line.empty() && line.front() == '{') {
    const auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return std::nullopt;
    }
    ts = doc.value("ts", "");
    level = doc.value("level", "");
  } else {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) {
      return std::nullopt;
    }
    ts = line.substr(0, space);
    auto rest = line.substr(space + 1);
    level = rest.substr(0, rest.find(' '));
  }
  const auto ms = parse_timestamp(ts);
  const auto parsed = logging::parse_level(level);
  if (!ms || !parsed) {
    return std::nullopt;
  }
  return LogLineInfo{*ms, *parsed};
}

std::vector<std::filesystem::path> log_files_oldest_first(const std::filesystem::path& log) {
  std::vector<std::filesystem::path> files;
  const auto stem = log.stem().string();
  const auto ext = log.extension().string();
  for (int i = 1000; i >= 1; --i) {
    auto rotated = log.parent_path() / (stem + "." + std::to_string(i) + ext);
    std::error_code ec;
    if (std::filesystem::exists(rotated, ec)) {
      files.push_back(std::move(rotated));
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(log, ec)) {
    files.push_back(log);
  }
  return files;
}

namespace {

struct LocalLogsOptions {
  std::filesystem::path state_dir;
  std::filesystem::path log_file;
  bool follow = false;
  std::string since;
  std::string level;
};

CLI::App* define_local_logs(CLI::App& parent, LocalLogsOptions& options) {
  CLI::App* cmd = parent.add_subcommand("logs", "Show the local server's log");
  cmd->add_option("--state-dir", options.state_dir,
                  "State directory (default $XDG_DATA_HOME/boxd-local)");
  cmd->add_option("--log-file", options.log_file,
                  "The log to read (default <state_dir>/server.log)")
      ->type_name("PATH");
  cmd->add_flag("-f,--follow", options.follow, "Keep printing new lines (across rotations)");
  cmd->add_option("--since", options.since, "Only lines of the last DURATION (90s, 10m, 1h30m, 2d)")
      ->type_name("DURATION")
      ->check([](const std::string& text) {
        return parse_duration_secs(text) ? std::string() : "invalid duration '" + text + "'";
      });
  cmd->add_option("--level", options.level, "Only lines at this level or above")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->footer(
      "Reads <state_dir>/server.log, written by 'boxd local start' and the boxd-local\n"
      "systemd service (rotated files first: server.N.log ... server.1.log). A\n"
      "foreground 'boxd local serve' logs to its stderr instead.\n"
      "\n"
      "Examples:\n"
      "  boxd local logs --since 10m\n"
      "  boxd local logs -f --level warn\n"
      "  sudo boxd local logs --state-dir /var/lib/boxd-local -f");
  return cmd;
}

struct Filter {
  std::optional<std::int64_t> since_ms;
  std::optional<logging::Level> level;

  bool keep(std::string_view line) const {
    if (!since_ms && !level) {
      return true;
    }
    const auto info = parse_log_line(line);
    if (!info) {
      return false;
    }
    return (!since_ms || info->unix_ms >= *since_ms) && (!level || info->level >= *level);
  }
};

// Prints the complete lines of `pending` that pass, keeps the incomplete rest.
void emit(std::string& pending, const Filter& filter, std::ostream& out) {
  std::size_t start = 0;
  for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string_view line(pending.data() + start, nl - start);
    if (filter.keep(line)) {
      out << line << '\n';
    }
  }
  pending.erase(0, start);
}

// Reads what fd has from its offset on into pending; false on EOF at once.
bool drain(int fd, std::string& pending) {
  char buf[65536];
  bool any = false;
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    pending.append(buf, static_cast<std::size_t>(n));
    any = true;
  }
  return any;
}

ino_t inode_of(const std::filesystem::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// -f: new lines of `log` as they come; a rotation (the path names another
// file) finishes the old file, then starts the new one from its beginning.
[[noreturn]] void follow(const std::filesystem::path& log, int fd, std::string& pending,
                         const Filter& filter, Context& ctx) {
  for (;;) {
    if (fd < 0) {
      fd = ::open(log.c_str(), O_RDONLY | O_CLOEXEC);  // between rename and create
    }
    if (fd >= 0 && drain(fd, pending)) {
      emit(pending, filter, ctx.out);
      ctx.out.flush();
      if (!ctx.out) {
        throw Error(ErrorClass::Cancelled, "stdout closed");
      }
    }
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0) {
      const ino_t now_named = inode_of(log);
      if (now_named != st.st_ino) {
        drain(fd, pending);  // what was written before the rename
        emit(pending, filter, ctx.out);
        ::close(fd);
        fd = -1;
        continue;
      }
      if (st.st_size < ::lseek(fd, 0, SEEK_CUR)) {
        ::lseek(fd, 0, SEEK_SET);  // truncated
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int run_local_logs(const LocalLogsOptions& options, Context& ctx) {
  const auto log = options.log_file.empty()
                       ? resolve_local_state_dir(options.state_dir) / "server.log"
                       : options.log_file;
  Filter filter;
  if (!options.since.empty()) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    filter.since_ms = now - *parse_duration_secs(options.since) * 1000;
  }
  if (!options.level.empty()) {
    filter.level = logging::parse_level(options.level);
  }
  const auto files = log_files_oldest_first(log);
  if (files.empty() || files.back() != log) {
    throw Error(ErrorClass::NotFound, "no server log at " + log.string(),
                "'boxd local start' and the boxd-local service write it; a foreground 'boxd "
                "local serve' logs to stderr");
  }
  std::string pending;
  for (const auto& file : files) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw Error(ErrorClass::InvalidArgument,
                  "cannot read " + file.string() + ": " + std::strerror(errno),
                  "the service's log is root's: use sudo");
    }
    drain(fd, pending);
    if (file == log && options.follow) {
      emit(pending, filter, ctx.out);
      ctx.out.flush();
      follow(log, fd, pending, filter, ctx);
    }
    ::close(fd);
    if (!pending.empty() && pending.back() != '\n') {
      pending += '\n';  // a file's torn last line stays one line
    }
    emit(pending, filter, ctx.out);
  }
  return 0;
}

}  // namespace

void add_local_logs(CLI::App& parent, Context& ctx) {
  add_leaf<LocalLogsOptions>(parent, ctx, define_local_logs, run_local_logs);
}

}  // namespace boxd::cli
