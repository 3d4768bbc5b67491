#include "boxd/box/interrupt.hpp"

#include <poll.h>

namespace boxd::cli {

namespace {

// Not a signal number: the destructor's "stop watching".
constexpr char k_stop_byte = 127;

}  // namespace

InterruptWatch::InterruptWatch(client::CallCancel& cancel)
    : m_cancel(cancel), m_signals({SIGINT, SIGTERM}, 0) {
  m_thread = std::thread([this] {
    while (true) {
      pollfd fd{m_signals.fd(), POLLIN, 0};
      if (::poll(&fd, 1, -1) < 0) {
        continue;
      }
      const int sig = m_signals.take();
      if (sig == 0) {
        continue;  // nothing pending after all
      }
      if (sig == k_stop_byte) {
        return;
      }
      m_interrupted.store(true);
      m_cancel.cancel();
    }
  });
}

InterruptWatch::~InterruptWatch() {
  m_signals.notify(k_stop_byte);
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

}  // namespace boxd::cli
