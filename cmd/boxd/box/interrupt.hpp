// Ctrl-C for streaming commands (cp, logs -f): while an InterruptWatch
// lives, SIGINT and SIGTERM cancel the call in flight (through a self-pipe,
// common/fd.hpp's SignalPipe, and a watcher thread, since a signal handler
// may not touch gRPC) instead of killing boxd, so temp files are removed and
// the command exits 130.
#pragma once

#include <atomic>
#include <thread>

#include "client/client_api.hpp"
#include "common/fd.hpp"

namespace boxd::cli {

class InterruptWatch {
 public:
  explicit InterruptWatch(client::CallCancel& cancel);
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  bool interrupted() const { return m_interrupted.load(); }

 private:
  client::CallCancel& m_cancel;
  SignalPipe m_signals;  // SIGINT, SIGTERM; restored when the watch ends
  std::atomic<bool> m_interrupted{false};
  std::thread m_thread;
};

}  // namespace boxd::cli
