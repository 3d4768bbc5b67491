// Zero-copy messages for the bulk streams: the client's box cp up and exec
// stdin, the server's exec output.
//
// A typed stream copies every byte twice before the socket: into the
// message's bytes field (set_data) and again when gRPC serializes the
// message into a fresh buffer of its own (a new 1 MiB allocation per
// message, whose pages the kernel must fault in and clear each time). Here
// the payload is read straight into a pooled buffer; the message is a
// grpc::ByteBuffer of two slices, the protobuf encoding of the other fields
// plus the payload's tag and length, then the buffer itself, which gRPC
// writes to the socket without copying it and hands back to the pool (on
// whichever thread drops the last reference) once it is written. The bytes
// on the wire are exactly the typed message's.
#pragma once

#include <google/protobuf/message_lite.h>
#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace boxd {

// Buffers of one size, reused: a buffer taken and wrapped into a slice comes
// back when gRPC is done with it. The pool lives as long as any slice of it.
class SlicePool : public std::enable_shared_from_this<SlicePool> {
 public:
  static std::shared_ptr<SlicePool> create(std::size_t buffer_bytes);

  std::size_t buffer_bytes() const { return m_buffer_bytes; }
  // A free buffer, or a new one.
  std::unique_ptr<char[]> take();
  // A buffer taken and not wrapped, back for the next take().
  void put(std::unique_ptr<char[]> buffer);
  // A slice of the first `used` bytes of `buffer`, which goes back to the
  // pool when the slice's last reference is dropped.
  grpc::Slice wrap(std::unique_ptr<char[]> buffer, std::size_t used);

 private:
  explicit SlicePool(std::size_t buffer_bytes) : m_buffer_bytes(buffer_bytes) {}
  void give_back(char* buffer);

  const std::size_t m_buffer_bytes;
  std::mutex m_mutex;
  std::vector<std::unique_ptr<char[]>> m_free;  // guarded by m_mutex
};

// The message `head` (the serialized other fields before it) followed by
// the bytes field `field_number` holding `payload` (length-delimited wire
// type), without copying the payload, then `tail` (fields after it: the
// order protobuf itself writes when the payload's field number is the
// lowest).
grpc::ByteBuffer message_with_payload(const std::string& head, int field_number,
                                      grpc::Slice payload, const std::string& tail = {});

// A whole message serialized into a ByteBuffer (for the small ones on a raw
// stream: the first exec chunk, window changes).
grpc::ByteBuffer serialized(const google::protobuf::MessageLite& message);

}  // namespace boxd
