#include "boxd/box/exec_jsonl.hpp"

#include "boxd/box/exec_relay.hpp"
#include "common/base64.hpp"

namespace boxd::cli {

namespace {

// Bytes in the sequence a lead byte starts; 0 for a continuation or invalid byte.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    return 2;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    return 4;
  }
  return 0;
}

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int length = sequence_length(lead);
    if (length == 0 || i + static_cast<std::size_t>(length) > text.size()) {
      return false;
    }
    for (int k = 1; k < length; ++k) {
      if (!is_continuation(static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]))) {
        return false;
      }
    }
    if (length >= 3) {
      const auto second = static_cast<unsigned char>(text[i + 1]);
      if ((lead == 0xE0 && second < 0xA0) ||  // overlong 3-byte form
          (lead == 0xED && second > 0x9F) ||  // UTF-16 surrogates
          (lead == 0xF0 && second < 0x90) ||  // overlong 4-byte form
          (lead == 0xF4 && second > 0x8F)) {  // above U+10FFFF
        return false;
      }
    }
    i += static_cast<std::size_t>(length);
  }
  return true;
}

std::size_t incomplete_utf8_tail(std::string_view text) {
  const std::size_t limit = std::min<std::size_t>(3, text.size());
  for (std::size_t back = 1; back <= limit; ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if (is_continuation(byte)) {
      continue;
    }
    const int length = sequence_length(byte);
    return (length > 1 && static_cast<std::size_t>(length) > back) ? back : 0;
  }
  return 0;
}

bool JsonlWriter::chunk(bool is_stderr, std::string_view data) {
  std::string& held = m_held[is_stderr ? 1 : 0];
  std::string text = std::move(held);
  held.clear();
  text.append(data);
  const std::size_t tail = incomplete_utf8_tail(text);
  held.assign(text, text.size() - tail, tail);
  text.resize(text.size() - tail);
  return text.empty() || emit(is_stderr, text);
}

bool JsonlWriter::finish(const nlohmann::json& status) {
  for (const bool is_stderr : {false, true}) {
    std::string& held = m_held[is_stderr ? 1 : 0];
    if (!held.empty() && !emit(is_stderr, held)) {
      return false;
    }
    held.clear();
  }
  return write_line(status);
}

bool JsonlWriter::emit(bool is_stderr, std::string_view data) {
  nlohmann::json line = {{"stream", is_stderr ? "stderr" : "stdout"}};
  if (is_valid_utf8(data)) {
    line["data"] = std::string(data);
  } else {
    line["data_base64"] = base64_encode(data);
  }
  return write_line(line);
}

bool JsonlWriter::write_line(const nlohmann::json& object) {
  const std::string text = object.dump() + "\n";
  return write_all(m_fd, text.data(), text.size());
}

}  // namespace boxd::cli
