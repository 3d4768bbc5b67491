// One UploadFileChunk or ExecChunk as gRPC received it (a grpc::ByteBuffer),
// parsed by chunk_wire.hpp with its data left in the received slices.
//
// The slices are the client's doing: HTTP/2 lets it cut a message into
// DATA frames of one byte, and each frame is a slice, which keeps the
// whole gRPC read buffer it lies in (8 or 64 KiB) alive while the chunk is
// held (exec keeps up to three queued for a command that does not read its
// stdin). A message in more pieces than 16 plus one per 32 KiB is copied
// into one buffer first, so what a held chunk keeps stays within 1 MiB plus
// twice its size whatever the client does (the copy is the cost protobuf's
// own parse had). Our CLI's 1 MiB messages, in HTTP/2 frames of up to 4
// MiB, arrive in 19-33 pieces; a sender that keeps HTTP/2's 16 KiB frames
// (80-90 pieces per MiB) gets the copy.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <optional>
#include <string_view>
#include <vector>

#include "local/chunk_wire.hpp"

namespace boxd::local {

template <class Message>
class ReceivedChunk {
 public:
  // Takes `message` (left empty); false when protobuf would refuse it. The
  // previous message's pieces are invalid from here on.
  bool take(grpc::ByteBuffer& message);
  const ChunkView<Message>& chunk() const { return m_chunk; }

 private:
  grpc::ByteBuffer m_message;
  std::optional<grpc::ProtoBufferReader> m_reader;  // the pieces point into its slices
  grpc::Slice m_flat;                               // or into this copy
  std::vector<std::string_view> m_pieces;
  ChunkView<Message> m_chunk;
};

using ReceivedUpload = ReceivedChunk<api::UploadFileChunk>;
using ReceivedExec = ReceivedChunk<api::ExecChunk>;

extern template class ReceivedChunk<api::UploadFileChunk>;
extern template class ReceivedChunk<api::ExecChunk>;

}  // namespace boxd::local
