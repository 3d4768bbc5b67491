// The server's parse of UploadFileChunk from received bytes
// (lib/local/chunk_wire.hpp) against protobuf's own parse of the same
// bytes: the bytes are the client's, so both must accept and refuse the
// same messages and find the same fields, whatever the message is and
// however gRPC cut it into pieces. The first input byte chooses the cuts.
#include <google/protobuf/stubs/logging.h>

#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "local/chunk_wire.hpp"

namespace {

std::vector<std::string_view> cut(std::string_view message, unsigned char pattern) {
  // Piece sizes cycle through two lengths (0 = an empty piece, which gRPC
  // never makes but the parser must take).
  const std::size_t sizes[2] = {static_cast<std::size_t>(pattern >> 4),
                                static_cast<std::size_t>(pattern & 15U) + 1};
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; !message.empty(); ++i) {
    const auto part = message.substr(0, sizes[i % 2]);
    pieces.push_back(part);
    message.remove_prefix(part.size());
  }
  return pieces;
}

// One message type: boxd's parse against protobuf's.
template <class Message>
void check(const std::string& message, const std::vector<std::string_view>& pieces) {
  using boxd::fuzz::require;
  Message expected;
  const bool expected_ok = expected.ParseFromString(message);
  boxd::local::ChunkView<Message> got;
  const bool got_ok = boxd::local::parse_chunk(pieces, got);
  require(got_ok == expected_ok, "accepted and refused as protobuf does");
  if (!got_ok) {
    return;
  }
  std::string joined;
  for (const auto part : got.data) {
    joined.append(part);
  }
  require(joined.size() == got.data_size, "data_size counts the data's pieces");
  require(joined == expected.data(), "the data field is protobuf's");
  require(got.fields.data().empty(), "the data field is left out of the fields");
  got.fields.set_data(joined);
  require(got.fields.SerializeAsString() == expected.SerializeAsString(),
          "every other field, unknown ones too, is protobuf's");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    // protobuf logs every string field that is not UTF-8.
    google::protobuf::SetLogHandler(
        [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    return true;
  }();
  (void)quiet;
  if (size == 0) {
    return 0;
  }
  const std::string message(boxd::fuzz::as_text(data + 1, size - 1));
  const auto pieces = cut(message, data[0]);

  check<boxd::api::v1::UploadFileChunk>(message, pieces);
  check<boxd::api::v1::ExecChunk>(message, pieces);
  return 0;
}
