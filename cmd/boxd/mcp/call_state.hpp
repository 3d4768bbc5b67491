// One tools/call in flight: whether the client cancelled it, and what to
// cancel then (the exec stream or a streaming file/log call), so that a
// notifications/cancelled does what Ctrl-C does in `boxd box exec`.
#pragma once

#include <atomic>
#include <mutex>

#include "client/client_api.hpp"

namespace boxd::cli::mcp {

class CallState {
 public:
  // Cancels the call: the streaming call in flight (CallCancel), the exec
  // session if one is attached, and any attached later at once.
  void cancel();
  bool cancelled() const { return m_cancelled.load(); }

  // For Client calls that take a CallCancel (downloads, logs).
  client::CallCancel& call_cancel() { return m_call_cancel; }
  // The exec session in flight (null to detach).
  void attach(client::ExecSession* session);

 private:
  std::atomic<bool> m_cancelled{false};
  client::CallCancel m_call_cancel;
  std::mutex m_mutex;
  client::ExecSession* m_session = nullptr;
};

}  // namespace boxd::cli::mcp
