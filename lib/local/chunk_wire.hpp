// An UploadFileChunk or an ExecChunk read from the bytes gRPC received,
// without copying its data field. The server takes UploadFileStream and Exec
// as raw bytes (a grpc::ByteBuffer: the received slices, in pieces of any
// size) so that an upload's data goes from those slices straight into the
// file helper's pipe, and exec stdin into the command's (writev): a
// protobuf parse would first copy every byte into a string.
//
// The bytes are the client's, so the result must be what protobuf itself
// makes of them: a message in the usual shape (each field once or more, in
// any order, with any tags protobuf accepts) takes the fast path; anything
// else (groups, an unknown wire type, a truncated or oversized field, a tag
// of 0) is parsed by protobuf from a copy, so its answer decides.
// tests/fuzz/fuzz_chunk_wire.cpp compares the two on every input.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "boxd/api/v1/api.pb.h"

namespace boxd::local {

namespace api = boxd::api::v1;

// The methods the server takes as raw bytes: their interceptors see a
// grpc::ByteBuffer where other methods have their request message.
constexpr const char* k_raw_upload_method = "UploadFileStream";
constexpr const char* k_raw_exec_method = "Exec";

template <class Message>
struct ChunkView {
  // Every field but data (data is left empty).
  Message fields;
  // The data field, in order: views into the pieces given, or into `copy`.
  std::vector<std::string_view> data;
  std::size_t data_size = 0;
  // The whole message when protobuf had to parse it (the slow path).
  std::string copy;
};

using UploadChunkView = ChunkView<api::UploadFileChunk>;
using ExecChunkView = ChunkView<api::ExecChunk>;

// Parses the message made of `pieces` (in order) into `out`; false when
// protobuf would refuse it. The views in out.data stay valid as long as
// the pieces and `out` do.
bool parse_chunk(std::span<const std::string_view> pieces, UploadChunkView& out);
bool parse_chunk(std::span<const std::string_view> pieces, ExecChunkView& out);

}  // namespace boxd::local
