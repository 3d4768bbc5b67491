// Pooled buffers as gRPC slices: see zero_copy.hpp.
#include "common/zero_copy.hpp"

#include <google/protobuf/message_lite.h>

#include <cstdint>

namespace boxd {

namespace {

// What a pooled slice carries to its destroy callback.
struct Lease {
  std::shared_ptr<SlicePool> pool;
  char* buffer;
};

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

}  // namespace

std::shared_ptr<SlicePool> SlicePool::create(std::size_t buffer_bytes) {
  return std::shared_ptr<SlicePool>(new SlicePool(buffer_bytes));
}

std::unique_ptr<char[]> SlicePool::take() {
  {
    std::lock_guard lock(m_mutex);
    if (!m_free.empty()) {
      auto buffer = std::move(m_free.back());
      m_free.pop_back();
      return buffer;
    }
  }
  // Not zero-filled: only the bytes a read() put there are ever sent.
  return std::make_unique_for_overwrite<char[]>(m_buffer_bytes);
}

void SlicePool::put(std::unique_ptr<char[]> buffer) {
  give_back(buffer.release());
}

void SlicePool::give_back(char* buffer) {
  std::lock_guard lock(m_mutex);
  m_free.emplace_back(buffer);
}

grpc::Slice SlicePool::wrap(std::unique_ptr<char[]> buffer, std::size_t used) {
  auto* lease = new Lease{shared_from_this(), buffer.release()};
  return grpc::Slice(
      lease->buffer, used,
      [](void* user_data) {
        std::unique_ptr<Lease> done(static_cast<Lease*>(user_data));
        done->pool->give_back(done->buffer);
      },
      lease);
}

grpc::ByteBuffer message_with_payload(const std::string& head, int field_number,
                                      grpc::Slice payload, const std::string& tail) {
  std::string prefix = head;
  append_varint(prefix, (static_cast<std::uint64_t>(field_number) << 3) | 2);  // length-delimited
  append_varint(prefix, payload.size());
  grpc::Slice slices[3] = {grpc::Slice(prefix), std::move(payload), grpc::Slice(tail)};
  return grpc::ByteBuffer(slices, tail.empty() ? 2 : 3);
}

grpc::ByteBuffer serialized(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace boxd
