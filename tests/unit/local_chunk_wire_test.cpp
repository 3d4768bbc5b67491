// The server's parse of UploadFileChunk and ExecChunk from received bytes: the fields
// protobuf finds, the data left in the received pieces (no copy) for a
// message in the usual shape, and protobuf's own verdict for anything else.
// tests/fuzz/fuzz_chunk_wire.cpp compares the two on arbitrary bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "local/chunk_wire.hpp"
#include "local/received_chunk.hpp"

using boxd::local::ExecChunkView;
using boxd::local::parse_chunk;
using boxd::local::ReceivedExec;
using boxd::local::ReceivedUpload;
using boxd::local::UploadChunkView;
namespace api = boxd::api::v1;

namespace {

// `message` cut at every `step` bytes, as gRPC hands over its slices.
std::vector<std::string_view> cut(const std::string& message, std::size_t step) {
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < message.size(); at += step) {
    pieces.push_back(std::string_view(message).substr(at, step));
  }
  return pieces;
}

template <class View>
std::string joined(const View& chunk) {
  std::string out;
  for (const auto piece : chunk.data) {
    out.append(piece);
  }
  return out;
}

// Whether every data piece points into `message` (nothing was copied).
template <class View>
bool points_into(const View& chunk, const std::string& message) {
  for (const auto piece : chunk.data) {
    if (piece.data() < message.data() ||
        piece.data() + piece.size() > message.data() + message.size()) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("upload wire: a first chunk's fields, its data left in the pieces however they are cut") {
  api::UploadFileChunk sent;
  sent.set_vm_id("web");
  sent.set_path(std::string("d\xff/f.bin", 8));  // bytes: need not be UTF-8
  sent.set_total_size(5000000000ULL);
  std::string data(3000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7);
  }
  sent.set_data(data);
  const std::string message = sent.SerializeAsString();
  for (const std::size_t step : {1UL, 2UL, 7UL, 1000UL, message.size()}) {
    CAPTURE(step);
    UploadChunkView chunk;
    REQUIRE(parse_chunk(cut(message, step), chunk));
    CHECK(chunk.fields.vm_id() == "web");
    CHECK(chunk.fields.path() == sent.path());
    CHECK(chunk.fields.total_size() == 5000000000ULL);
    CHECK(chunk.fields.data().empty());
    CHECK(chunk.data_size == data.size());
    CHECK(joined(chunk) == data);
    CHECK(chunk.copy.empty());
    CHECK(points_into(chunk, message));
  }
}

TEST_CASE("upload wire: the last data field counts, an empty message is empty, data-only chunks") {
  api::UploadFileChunk first;
  first.set_data("old");
  api::UploadFileChunk second;
  second.set_data("new!");
  second.set_vm_id("web");
  const std::string message = first.SerializeAsString() + second.SerializeAsString();
  UploadChunkView chunk;
  REQUIRE(parse_chunk(cut(message, 3), chunk));
  CHECK(joined(chunk) == "new!");
  CHECK(chunk.data_size == 4);
  CHECK(chunk.fields.vm_id() == "web");

  REQUIRE(parse_chunk({}, chunk));
  CHECK(chunk.data.empty());
  CHECK(chunk.data_size == 0);
  CHECK(chunk.fields.vm_id().empty());

  api::UploadFileChunk data_only;
  data_only.set_data(std::string(70000, 'x'));  // a 3-byte length
  const std::string bytes = data_only.SerializeAsString();
  REQUIRE(parse_chunk(cut(bytes, 4096), chunk));
  CHECK(chunk.data_size == 70000);
  CHECK(chunk.copy.empty());
  CHECK(points_into(chunk, bytes));
}

TEST_CASE("upload wire: unusual messages get protobuf's verdict, bad ones are refused") {
  UploadChunkView chunk;
  // A group (wire type 3) of an unknown field: valid protobuf, taken by
  // protobuf's own parse.
  const std::string group = std::string("\x2b\x08\x01\x2c", 4) + "\x22\x02hi";
  REQUIRE(parse_chunk(cut(group, 1), chunk));
  CHECK(joined(chunk) == "hi");
  CHECK(chunk.copy == "hi");
  // A two-byte tag for data (field 4, wire type 2: 0xA2 0x00).
  const std::string long_tag = std::string("\xa2\x00\x03", 3) + "abc";
  REQUIRE(parse_chunk(cut(long_tag, 2), chunk));
  CHECK(joined(chunk) == "abc");
  // Cut short, a bad wire type, vm_id not UTF-8, tag 0.
  for (const std::string& bad : {std::string("\x22\x05"
                                             "abc"),
                                 std::string("\x27", 1), std::string("\x0a\x01\xff", 3),
                                 std::string("\x00\x22\x00", 3), std::string("\x18\x80\x80", 3)}) {
    CAPTURE(bad);
    api::UploadFileChunk reference;
    CHECK_FALSE(reference.ParseFromString(bad));
    CHECK_FALSE(parse_chunk(cut(bad, 1), chunk));
  }
}

TEST_CASE("upload wire: a received message keeps its slices, unless the client cut it to crumbs") {
  api::UploadFileChunk sent;
  sent.set_vm_id("web");
  sent.set_data(std::string(200000, 'd'));
  const std::string message = sent.SerializeAsString();
  const auto received_in = [&](std::size_t step) {
    std::vector<grpc::Slice> slices;
    for (std::size_t at = 0; at < message.size(); at += step) {
      slices.emplace_back(message.data() + at, std::min(step, message.size() - at));
    }
    return grpc::ByteBuffer(slices.data(), slices.size());
  };
  ReceivedUpload received;
  // As gRPC hands over a sane client's message: 16 KiB frames.
  auto buffer = received_in(16384);
  REQUIRE(received.take(buffer));
  CHECK(received.chunk().fields.vm_id() == "web");
  CHECK(joined(received.chunk()) == sent.data());
  CHECK(received.chunk().data.size() == 13);  // one piece per slice, no copy
  // 4 KiB frames: 49 slices, more than 16 + 1 per 32 KiB (each could keep
  // a 64 KiB read buffer alive): copied into one buffer.
  buffer = received_in(4096);
  REQUIRE(received.take(buffer));
  CHECK(joined(received.chunk()) == sent.data());
  CHECK(received.chunk().data.size() == 1);
  // HTTP/2 DATA frames of 8 bytes: 25,000 slices, copied into one buffer.
  buffer = received_in(8);
  REQUIRE(received.take(buffer));
  CHECK(joined(received.chunk()) == sent.data());
  CHECK(received.chunk().data.size() == 1);
  CHECK(received.chunk().fields.vm_id() == "web");
  // Nothing at all is an empty message.
  grpc::ByteBuffer none;
  REQUIRE(received.take(none));
  CHECK(received.chunk().data_size == 0);
  // Not a message.
  grpc::Slice bad(
      "\x22\x05"
      "abc",
      5);
  buffer = grpc::ByteBuffer(&bad, 1);
  CHECK_FALSE(received.take(buffer));
}

TEST_CASE("exec wire: data is field 1; the other fields (UTF-8 strings too) are protobuf's") {
  api::ExecChunk sent;
  sent.set_vm_id("web");
  sent.set_command("printf 'h\xc3\xa9'");
  sent.set_stdin(true);
  sent.set_cols(120);
  sent.set_rows(40);
  sent.set_data(std::string(5000, 'k'));
  const std::string message = sent.SerializeAsString();
  for (const std::size_t step : {1UL, 3UL, 4096UL, message.size()}) {
    CAPTURE(step);
    ExecChunkView chunk;
    REQUIRE(parse_chunk(cut(message, step), chunk));
    CHECK(chunk.fields.vm_id() == "web");
    CHECK(chunk.fields.command() == sent.command());
    CHECK(chunk.fields.stdin());
    CHECK(chunk.fields.cols() == 120);
    CHECK(chunk.fields.rows() == 40);
    CHECK(chunk.fields.data().empty());
    CHECK(joined(chunk) == sent.data());
    CHECK(chunk.copy.empty());
    CHECK(points_into(chunk, message));
  }
  // Field 4 is the command here, not data: a string protobuf checks.
  api::ExecChunk bad_utf8;
  bad_utf8.mutable_command()->assign("\xff\xfe", 2);
  std::string bytes;
  bad_utf8.AppendPartialToString(&bytes);
  api::ExecChunk reference;
  ExecChunkView chunk;
  CHECK(parse_chunk(cut(bytes, 1), chunk) == reference.ParseFromString(bytes));
}

TEST_CASE("exec wire: a received chunk keeps its data in the ByteBuffer's slices") {
  api::ExecChunk sent;
  sent.set_data(std::string(100000, 'z'));
  sent.set_window_change(true);
  const std::string message = sent.SerializeAsString();
  std::vector<grpc::Slice> slices;
  for (const auto piece : cut(message, 16384)) {
    slices.emplace_back(piece.data(), piece.size());
  }
  grpc::ByteBuffer buffer(slices.data(), slices.size());
  ReceivedExec received;
  REQUIRE(received.take(buffer));
  CHECK(buffer.Length() == 0);
  CHECK(received.chunk().fields.window_change());
  CHECK(received.chunk().data_size == 100000);
  CHECK(joined(received.chunk()) == sent.data());
  CHECK(received.chunk().copy.empty());
  grpc::Slice bad(
      std::string("\x0a\x05"
                  "abc"));
  grpc::ByteBuffer truncated(&bad, 1);
  CHECK_FALSE(received.take(truncated));
}
