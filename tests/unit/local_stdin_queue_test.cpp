// Exec stdin held in received slices (stdin_queue.hpp): what is gathered
// for writev is the queued data from where the last write stopped, in
// order, across pieces and chunks, however short the writes.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "local/stdin_queue.hpp"

using boxd::local::ReceivedExec;
using boxd::local::StdinQueue;
namespace api = boxd::api::v1;

namespace {

// An ExecChunk carrying `data`, received in slices of `step` bytes (more
// than 23: gRPC merges smaller ones into one).
std::unique_ptr<ReceivedExec> received(const std::string& data, std::size_t step) {
  api::ExecChunk chunk;
  chunk.set_data(data);
  chunk.set_stdin(true);
  const std::string message = chunk.SerializeAsString();
  std::vector<grpc::Slice> slices;
  for (std::size_t at = 0; at < message.size(); at += step) {
    slices.emplace_back(message.data() + at, std::min(step, message.size() - at));
  }
  grpc::ByteBuffer buffer(slices.data(), slices.size());
  auto out = std::make_unique<ReceivedExec>();
  REQUIRE(out->take(buffer));
  return out;
}

// What gather() offers, joined; `slots` iovecs at most.
std::string gathered(const StdinQueue& queue, std::size_t slots = 64) {
  std::vector<iovec> iov(slots);
  const int n = queue.gather(iov);
  std::string out;
  for (int i = 0; i < n; ++i) {
    out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  }
  return out;
}

}  // namespace

// Data of `n` bytes that shows where a byte came from.
std::string text(char tag, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<char>(tag + static_cast<char>(i % 7)));
  }
  return out;
}

TEST_CASE("stdin queue: partial writes continue where they stopped, across pieces and chunks") {
  const std::string first = text('a', 200);
  const std::string second = text('A', 90);
  StdinQueue queue;
  CHECK(queue.empty());
  REQUIRE(received(first, 30)->chunk().data.size() > 3);  // data in several pieces
  queue.push(received(first, 30), 0);
  queue.push(received(second, 40), 1);  // its first byte was written already
  CHECK(queue.size() == 2);
  const std::string all = first + second.substr(1);
  CHECK(gathered(queue) == all);
  std::string written;
  // Short writes: inside a piece, across pieces, ending exactly at the
  // first chunk's end, then into the second.
  for (const std::size_t n : {1UL, 2UL, 45UL, 152UL, 30UL}) {
    written += gathered(queue).substr(0, n);
    queue.consume(n);
    CHECK(written + gathered(queue) == all);
  }
  CHECK(queue.size() == 1);
  queue.consume(all.size() - written.size());
  CHECK(queue.empty());
  CHECK(gathered(queue).empty());
}

TEST_CASE("stdin queue: a write across a chunk's end, the iovec cap, fully written chunks") {
  const std::string first = text('0', 100);
  const std::string second = text('k', 100);
  StdinQueue queue;
  queue.push(received(first, 25), 0);
  queue.push(received(second, 25), 0);
  queue.consume(150);  // the first chunk and half the second
  CHECK(queue.size() == 1);
  CHECK(gathered(queue) == second.substr(50));

  // Only as many pieces as there are iovecs: a prefix, in order.
  const std::string two = gathered(queue, 2);
  CHECK(two.size() < 50);
  CHECK(two == second.substr(50, two.size()));

  // Data written in full already (the keystroke path wrote it all) or none.
  StdinQueue other;
  other.push(received(first, 30), first.size());
  other.push(received("", 30), 0);
  CHECK(other.empty());
  queue.clear();
  CHECK(queue.empty());
}
