// Exec stdin the server holds for a command (exec_relay.cpp): whole
// received chunks, their data still in the slices gRPC received it in
// (ReceivedExec: never copied), written to the command's stdin with writev
// from wherever the last write stopped, in order, across chunks.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "local/received_chunk.hpp"

namespace boxd::local {

// `chunk`'s data from its piece `piece`, byte `offset` on, as iovecs in
// `iov` (as many as fit); how many were filled.
inline std::size_t data_iovecs(const ExecChunkView& chunk, std::size_t piece, std::size_t offset,
                               std::span<iovec> iov) {
  std::size_t n = 0;
  for (std::size_t i = piece; i < chunk.data.size() && n < iov.size(); ++i) {
    const std::size_t from = i == piece ? offset : 0;
    if (chunk.data[i].size() > from) {
      iov[n++] = iovec{const_cast<char*>(chunk.data[i].data() + from), chunk.data[i].size() - from};
    }
  }
  return n;
}

class StdinQueue {
 public:
  bool empty() const { return m_entries.empty(); }
  std::size_t size() const { return m_entries.size(); }

  // Queues `chunk`'s data after its first `skip` bytes (already written).
  void push(std::unique_ptr<ReceivedExec> chunk, std::size_t skip) {
    Entry entry{std::move(chunk)};
    advance(entry, skip);
    if (!done(entry)) {
      m_entries.push_back(std::move(entry));
    }
  }

  // The queued bytes as at most `iov.size()` iovecs; how many were filled.
  int gather(std::vector<iovec>& iov) const {
    std::size_t n = 0;
    for (const Entry& entry : m_entries) {
      n += data_iovecs(entry.chunk->chunk(), entry.piece, entry.offset, std::span(iov).subspan(n));
    }
    return static_cast<int>(n);
  }

  // `n` bytes from the front were written.
  void consume(std::size_t n) {
    while (!m_entries.empty()) {
      n = advance(m_entries.front(), n);
      if (!done(m_entries.front())) {
        return;
      }
      m_entries.pop_front();
    }
  }

  void clear() { m_entries.clear(); }

 private:
  struct Entry {
    std::unique_ptr<ReceivedExec> chunk;
    std::size_t piece = 0;   // the data's next piece to write
    std::size_t offset = 0;  // within it
  };

  static bool done(const Entry& entry) { return entry.piece == entry.chunk->chunk().data.size(); }

  // Moves `entry` on by up to `n` bytes; what is left of n.
  static std::size_t advance(Entry& entry, std::size_t n) {
    const auto& pieces = entry.chunk->chunk().data;
    while (entry.piece < pieces.size()) {
      const std::size_t left = pieces[entry.piece].size() - entry.offset;
      if (n < left) {
        entry.offset += n;
        return 0;
      }
      n -= left;
      ++entry.piece;
      entry.offset = 0;
    }
    return n;
  }

  std::deque<Entry> m_entries;
};

}  // namespace boxd::local
