// JSON-RPC 2.0 as MCP's stdio transport uses it: one message per line on
// stdout (no embedded newline: nlohmann's compact dump escapes them), only
// protocol messages ever reach that fd, and invalid UTF-8 in a string (remote
// output) is replaced with U+FFFD rather than breaking the stream.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace boxd::cli::mcp {

using json = nlohmann::json;

inline constexpr int k_parse_error = -32700;
inline constexpr int k_invalid_request = -32600;
inline constexpr int k_method_not_found = -32601;
inline constexpr int k_invalid_params = -32602;
inline constexpr int k_internal_error = -32603;

// The protocol revisions this server speaks, newest first.
const std::vector<std::string>& protocol_versions();
// The revision to answer `initialize` with: the client's when we speak it,
// else our newest (the client then decides whether to go on).
std::string negotiate_version(const json& requested);

json rpc_result(const json& id, json result);
json rpc_error(const json& id, int code, const std::string& message);
json rpc_notification(const std::string& method, json params);

// One line of compact JSON; invalid UTF-8 replaced.
std::string encode_line(const json& message);

// Writes whole lines to one fd from any thread; a line is never interleaved
// with another. After a write error (the client went away) it drops the rest.
class Writer {
 public:
  explicit Writer(int fd) : m_fd(fd) {}
  bool send(const json& message);

 private:
  std::mutex m_mutex;
  int m_fd;
  bool m_broken = false;
};

// Splits what arrives on a fd into lines (without the newline); a line
// longer than `max_line` is reported as too long and skipped.
class LineReader {
 public:
  LineReader(int fd, std::size_t max_line) : m_fd(fd), m_max_line(max_line) {}
  enum class Status { Line, TooLong, End };
  Status next(std::string& line);

 private:
  bool fill();
  int m_fd;
  std::size_t m_max_line;
  std::string m_buffer;
  bool m_eof = false;
  bool m_skipping = false;
};

}  // namespace boxd::cli::mcp
