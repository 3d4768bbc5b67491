#include "boxd/mcp/call_state.hpp"

namespace boxd::cli::mcp {

void CallState::cancel() {
  m_cancelled.store(true);
  m_call_cancel.cancel();
  std::lock_guard lock(m_mutex);
  if (m_session != nullptr) {
    m_session->cancel();
  }
}

void CallState::attach(client::ExecSession* session) {
  std::lock_guard lock(m_mutex);
  m_session = session;
  if (m_session != nullptr && m_cancelled.load()) {
    m_session->cancel();
  }
}

}  // namespace boxd::cli::mcp
