// Ctrl-C for streaming commands (cp, logs -f): while an InterruptWatch
// lives, SIGINT and SIGTERM cancel the call in flight (through a self-pipe
// and a watcher thread, since a signal handler may not touch gRPC) instead
// of killing boxd, so temp files are removed and the command exits 130.
#pragma once

#include <atomic>
#include <csignal>
#include <thread>

#include "client/client.hpp"

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
  int m_pipe[2] = {-1, -1};
  std::atomic<bool> m_interrupted{false};
  struct sigaction m_old_int {};
  struct sigaction m_old_term {};
  std::thread m_thread;
};

}  // namespace boxd::cli
