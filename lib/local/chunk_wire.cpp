// UploadFileChunk and ExecChunk from received bytes: see chunk_wire.hpp.
#include "local/chunk_wire.hpp"

#include <cstdint>
#include <optional>

namespace boxd::local {

namespace {

// The data field's tag (length-delimited): field 4 of UploadFileChunk,
// field 1 of ExecChunk.
constexpr std::uint32_t k_upload_data_tag = (4U << 3) | 2U;
constexpr std::uint32_t k_exec_data_tag = (1U << 3) | 2U;

// Reads through the pieces of one message as if they were one string.
class Cursor {
 public:
  explicit Cursor(std::span<const std::string_view> pieces) : m_pieces(pieces) { skip_empty(); }

  bool at_end() const { return m_piece == m_pieces.size(); }

  std::optional<unsigned char> byte() {
    if (at_end()) {
      return std::nullopt;
    }
    const auto value = static_cast<unsigned char>(m_pieces[m_piece][m_offset]);
    advance(1);
    return value;
  }

  // A varint of at most `max_bytes` bytes (nullopt when longer or cut off),
  // its bytes appended to `raw` when given.
  std::optional<std::uint64_t> varint(int max_bytes, std::string* raw) {
    std::uint64_t value = 0;
    for (int i = 0; i < max_bytes; ++i) {
      const auto b = byte();
      if (!b) {
        return std::nullopt;
      }
      if (raw != nullptr) {
        raw->push_back(static_cast<char>(*b));
      }
      value |= static_cast<std::uint64_t>(*b & 0x7FU) << (7 * i);
      if ((*b & 0x80U) == 0) {
        return value;
      }
    }
    return std::nullopt;
  }

  // The next `size` bytes, as views appended to `out` or copied onto
  // `copy`; false when fewer are left.
  bool take(std::size_t size, std::vector<std::string_view>* out, std::string* copy) {
    while (size > 0) {
      if (at_end()) {
        return false;
      }
      const auto part = m_pieces[m_piece].substr(m_offset, size);
      if (out != nullptr) {
        out->push_back(part);
      }
      if (copy != nullptr) {
        copy->append(part);
      }
      size -= part.size();
      advance(part.size());
    }
    return true;
  }

 private:
  void advance(std::size_t n) {
    m_offset += n;
    if (m_offset == m_pieces[m_piece].size()) {
      ++m_piece;
      m_offset = 0;
      skip_empty();
    }
  }

  void skip_empty() {
    while (m_piece < m_pieces.size() && m_pieces[m_piece].empty()) {
      ++m_piece;
    }
  }

  std::span<const std::string_view> m_pieces;
  std::size_t m_piece = 0;
  std::size_t m_offset = 0;
};

// The fast path: false when the message is not in the usual shape, and
// protobuf must decide. Fields other than data are copied, tag and value,
// onto `rest`, in order.
template <class Message>
bool split_fields(std::span<const std::string_view> pieces, std::uint32_t data_tag,
                  std::string& rest, ChunkView<Message>& out) {
  Cursor in(pieces);
  while (!in.at_end()) {
    const auto tag = in.byte();
    // One-byte tags only (fields 1..15); 0 and longer encodings go to protobuf.
    if (!tag || *tag == 0 || (*tag & 0x80U) != 0) {
      return false;
    }
    if (*tag == data_tag) {
      // At most 4 length bytes: < 256 MiB, far below protobuf's own limit.
      const auto size = in.varint(4, nullptr);
      if (!size) {
        return false;
      }
      out.data.clear();  // a repeated singular field: the last one counts
      if (!in.take(*size, &out.data, nullptr)) {
        return false;
      }
      out.data_size = *size;
      continue;
    }
    rest.push_back(static_cast<char>(*tag));
    bool ok = false;
    switch (*tag & 7U) {
      case 0:  // varint; a 10-byte one goes to protobuf, whose checks decide
        ok = in.varint(9, &rest).has_value();
        break;
      case 1:  // fixed64
        ok = in.take(8, nullptr, &rest);
        break;
      case 2:  // length-delimited
        if (const auto size = in.varint(4, &rest)) {
          ok = in.take(*size, nullptr, &rest);
        }
        break;
      case 5:  // fixed32
        ok = in.take(4, nullptr, &rest);
        break;
      default:  // groups and invalid wire types
        break;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

template <class Message>
bool parse_data_chunk(std::span<const std::string_view> pieces, std::uint32_t data_tag,
                      ChunkView<Message>& out) {
  out.data.clear();
  out.data_size = 0;
  out.copy.clear();
  std::string rest;
  if (split_fields(pieces, data_tag, rest, out)) {
    if (rest.empty()) {
      out.fields.Clear();
      return true;
    }
    return out.fields.ParseFromString(rest);
  }
  out.data.clear();
  out.data_size = 0;
  for (const auto piece : pieces) {
    out.copy.append(piece);
  }
  if (!out.fields.ParseFromString(out.copy)) {
    return false;
  }
  // The data field is moved out, so it is kept like the fast path's.
  out.copy = std::move(*out.fields.mutable_data());
  out.fields.clear_data();
  out.data_size = out.copy.size();
  if (!out.copy.empty()) {
    out.data.emplace_back(out.copy);
  }
  return true;
}

}  // namespace

bool parse_chunk(std::span<const std::string_view> pieces, UploadChunkView& out) {
  return parse_data_chunk(pieces, k_upload_data_tag, out);
}

bool parse_chunk(std::span<const std::string_view> pieces, ExecChunkView& out) {
  return parse_data_chunk(pieces, k_exec_data_tag, out);
}

}  // namespace boxd::local
