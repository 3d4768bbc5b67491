#include "boxd/mcp/json_rpc.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/files.hpp"

namespace boxd::cli::mcp {

const std::vector<std::string>& protocol_versions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                    "2024-11-05"};
  return versions;
}

std::string negotiate_version(const json& requested) {
  const auto& versions = protocol_versions();
  if (requested.is_string()) {
    auto wanted = requested.get<std::string>();
    if (std::find(versions.begin(), versions.end(), wanted) != versions.end()) {
      return wanted;
    }
  }
  return versions.front();
}

json rpc_result(const json& id, json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json rpc_error(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

json rpc_notification(const std::string& method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

std::string encode_line(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool Writer::send(const json& message) {
  const std::string line = encode_line(message);
  std::lock_guard lock(m_mutex);
  if (m_broken) {
    return false;
  }
  if (!write_all(m_fd, line.data(), line.size())) {
    m_broken = true;
  }
  return !m_broken;
}

bool LineReader::fill() {
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(m_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      m_eof = true;
      return false;
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

LineReader::Status LineReader::next(std::string& line) {
  for (;;) {
    const auto newline = m_buffer.find('\n');
    if (newline != std::string::npos) {
      const bool skipped = m_skipping || newline > m_max_line;
      m_skipping = false;
      if (skipped) {
        m_buffer.erase(0, newline + 1);
        return Status::TooLong;
      }
      line.assign(m_buffer, 0, newline);
      m_buffer.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (line.empty()) {
        continue;
      }
      return Status::Line;
    }
    if (m_buffer.size() > m_max_line) {
      m_skipping = true;  // drop what we have; the rest of the line follows
      m_buffer.clear();
    }
    if (m_eof || !fill()) {
      if (!m_buffer.empty() && !m_skipping) {
        line.swap(m_buffer);
        m_buffer.clear();
        return Status::Line;
      }
      return Status::End;
    }
  }
}

}  // namespace boxd::cli::mcp
