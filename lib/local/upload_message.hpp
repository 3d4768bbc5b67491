// One UploadFileChunk as gRPC received it (a grpc::ByteBuffer), parsed by
// upload_wire.hpp with its data left in the received slices.
//
// The slices are the client's doing: HTTP/2 lets it cut a message into
// DATA frames of one byte, and each frame is a slice. A message in more
// pieces than a sane sender makes (more than 64 plus one per 4 KiB) is
// copied into one buffer first, so the pieces kept per message stay few
// whatever the client does (the copy is the cost protobuf's own parse had).
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <optional>
#include <string_view>
#include <vector>

#include "local/upload_wire.hpp"

namespace boxd::local {

class ReceivedUpload {
 public:
  // Takes `message` (left empty); false when protobuf would refuse it. The
  // previous message's pieces are invalid from here on.
  bool take(grpc::ByteBuffer& message);
  const UploadChunkView& chunk() const { return m_chunk; }

 private:
  grpc::ByteBuffer m_message;
  std::optional<grpc::ProtoBufferReader> m_reader;  // the pieces point into its slices
  grpc::Slice m_flat;                               // or into this copy
  std::vector<std::string_view> m_pieces;
  UploadChunkView m_chunk;
};

}  // namespace boxd::local
