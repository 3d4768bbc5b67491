// A received UploadFileChunk or ExecChunk: see received_chunk.hpp.
#include "local/received_chunk.hpp"

namespace boxd::local {

namespace {

// Each piece can keep a whole read buffer of gRPC's alive (8 or 64 KiB),
// however few of its bytes are the piece's: at most 16 + 1 per 32 KiB
// pieces hold at most 1 MiB + twice the message.
constexpr std::size_t k_base_pieces = 16;
constexpr std::size_t k_bytes_per_piece = 32 * 1024;

}  // namespace

template <class Message>
bool ReceivedChunk<Message>::take(grpc::ByteBuffer& message) {
  m_pieces.clear();
  m_reader.reset();
  m_flat = grpc::Slice();
  m_message.Swap(&message);
  message.Clear();
  if (!m_message.Valid()) {  // no bytes at all: an empty message
    return parse_chunk({}, m_chunk);
  }
  const std::size_t most = k_base_pieces + m_message.Length() / k_bytes_per_piece;
  m_reader.emplace(&m_message);
  const void* data = nullptr;
  int size = 0;
  while (m_pieces.size() <= most && m_reader->Next(&data, &size)) {
    m_pieces.emplace_back(static_cast<const char*>(data), static_cast<std::size_t>(size));
  }
  if (!m_reader->status().ok()) {
    return false;
  }
  if (m_pieces.size() > most) {
    m_pieces.clear();
    m_reader.reset();
    if (!m_message.DumpToSingleSlice(&m_flat).ok()) {
      return false;
    }
    m_message.Clear();  // its crumbs cost more than the copy
    m_pieces.emplace_back(reinterpret_cast<const char*>(m_flat.begin()), m_flat.size());
  }
  return parse_chunk(m_pieces, m_chunk);
}

template class ReceivedChunk<api::UploadFileChunk>;
template class ReceivedChunk<api::ExecChunk>;

}  // namespace boxd::local
