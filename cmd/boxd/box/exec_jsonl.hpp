// `box exec --jsonl`: the remote command's output as a stream of JSON lines.
//
// Each output chunk becomes one line as soon as it arrives:
//   {"stream":"stdout","data":"text"}
// and once the command has ended, one final line with the status:
//   {"exit_code":3,"signal":null,"duration_ms":12}
// (plus "error" when boxd itself failed, e.g. on --timeout).
//
// JSON strings must be valid UTF-8, but the remote output is bytes. Two
// things keep the stream lossless:
//  - a chunk boundary may cut a multi-byte character in two; the incomplete
//    tail (at most 3 bytes) is held back and prepended to the next chunk of
//    the same stream, and flushed before the final line;
//  - a chunk that is still not valid UTF-8 (binary data) is written as
//    {"stream":"stdout","data_base64":"..."} (standard base64, padded)
//    instead of "data", so a consumer can always rebuild the exact bytes.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace boxd::cli {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Length of a trailing, possibly incomplete multi-byte sequence that could
// still be completed by more bytes (0 when the text ends on a boundary).
std::size_t incomplete_utf8_tail(std::string_view text);

class JsonlWriter {
 public:
  explicit JsonlWriter(int fd) : m_fd(fd) {}

  // Writes one line for this chunk. False when the output is closed (EPIPE).
  bool chunk(bool is_stderr, std::string_view data);
  // Writes the held-back bytes of both streams, then the status line.
  bool finish(const nlohmann::json& status);

 private:
  bool emit(bool is_stderr, std::string_view data);
  bool write_line(const nlohmann::json& object);

  int m_fd;
  std::string m_held[2];
};

}  // namespace boxd::cli
